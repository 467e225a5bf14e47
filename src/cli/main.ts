/**
 * The nino command line: `nino collect | train-nino | bench | nowcast | tasks`.
 * Each command file registers itself on the program and calls one library function.
 * Errors print as one line (`nino: error: ...`) with exit code 1 (2 for usage errors); Ctrl-C / SIGTERM stop
 * the work at its next safe point with exit 130 / 143.
 */
import { Command, CommanderError, Option } from 'commander';
import { TOOL_VERSION } from '../core/version.ts';
import { BACKENDS } from '../core/backend.ts';
import { registerBench } from './bench.ts';
import { registerCollect } from './collect.ts';
import { registerNowcast } from './nowcast.ts';
import { registerTasks } from './tasks.ts';
import { registerTrainNino } from './train-nino.ts';
import { UsageError } from './common.ts';
import { InterruptedError, interruptedBy, requestInterrupt } from '../core/interrupt.ts';

export function buildProgram(): Command {
  const program = new Command('nino')
    .description('Neuron Interaction and Nowcasting (NiNo): fewer optimizer steps by nowcasting parameters')
    .version(TOOL_VERSION)
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKENDS]).env('NINO_BACKEND').default('auto'))
    .option('--log-file <path>', 'write structured (pino JSON) logs to this file instead of stderr')
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--no-progress', 'do not draw progress bars')
    .showHelpAfterError()
    .exitOverride();
  registerCollect(program);
  registerTrainNino(program);
  registerBench(program);
  registerNowcast(program);
  registerTasks(program);
  return program;
}

/** exit codes of the signals nino stops on */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
/** after a signal, give the work this long to reach a safe point before exiting anyway */
const FORCE_EXIT_MS = 3000;

export async function main(argv: string[]): Promise<void> {
  // Work is checkpointed as it goes (collect, train-nino, bench resume on rerun). A signal asks the work
  // to stop at its next safe point (between steps; worker threads are terminated); a second signal, or
  // no safe point within FORCE_EXIT_MS, exits at once. Exit 130/143 only when work was cut short.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interruptedBy()) process.exit(SIGNAL_EXIT[sig]);
      requestInterrupt(sig);
      setTimeout(() => {
        process.stderr.write(`\nnino: interrupted (${sig}); finished work is saved, rerun the same command to resume\n`);
        process.exit(SIGNAL_EXIT[sig]);
      }, FORCE_EXIT_MS).unref();
    });
  }
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (e instanceof InterruptedError) {
      process.stderr.write(`\nnino: interrupted (${e.signal}); finished work is saved, rerun the same command to resume\n`);
      process.exitCode = SIGNAL_EXIT[e.signal] ?? 130;
      return;
    }
    const msg = (e as Error).message ?? String(e);
    process.stderr.write(`nino: error: ${msg}\n`);
    if (process.env.NINO_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}
