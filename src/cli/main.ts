/**
 * The nino command line: `nino collect | train-nino | bench | nowcast | tasks | data`.
 * Each command file registers itself on the program and calls one library function.
 * Errors print once, as one line (`nino: error: ...`; the stack only at --log-level debug or with NINO_DEBUG),
 * with the exit codes of core/errors.ts: 1 runtime failure, 2 usage or input error (3: bench's speedup
 * gate). Ctrl-C / SIGTERM stop the work at its next safe point with exit 130 / 143.
 */
import { Command, CommanderError, Option } from 'commander';
import { TOOL_VERSION } from '../core/version.ts';
import { BACKENDS } from '../core/backend.ts';
import { registerBench } from './bench.ts';
import { registerCollect } from './collect.ts';
import { registerData } from './data.ts';
import { registerNowcast } from './nowcast.ts';
import { registerTasks } from './tasks.ts';
import { registerTrainNino } from './train-nino.ts';
import { EXIT, exitCodeOf } from '../core/errors.ts';
import { InterruptedError, interruptedBy, requestInterrupt } from '../core/interrupt.ts';
import { LOG_FORMATS, stopLiveBars } from './common.ts';

export function buildProgram(): Command {
  const program = new Command('nino')
    .description('Neuron Interaction and Nowcasting (NiNo): fewer optimizer steps by nowcasting parameters')
    .version(TOOL_VERSION)
    .addOption(
      new Option('--backend <name>', 'compute backend')
        .choices([...BACKENDS])
        .env('NINO_BACKEND')
        .default('auto'),
    )
    .option('--log-file <path>', 'write structured (pino JSON) logs to this file instead of stderr')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['debug', 'info', 'warn', 'error'])
        .env('NINO_LOG_LEVEL')
        .default('info'),
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'stderr logs: human lines (default on a terminal) or pino JSON (default otherwise)',
      )
        .choices([...LOG_FORMATS])
        .env('NINO_LOG_FORMAT'),
    )
    .option('--no-progress', 'do not draw progress bars')
    .showHelpAfterError()
    .exitOverride();
  registerCollect(program);
  registerTrainNino(program);
  registerBench(program);
  registerNowcast(program);
  registerTasks(program);
  registerData(program);
  return program;
}

/** exit codes of the signals nino stops on (core/errors.ts EXIT) */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };
const interruptedLine = (sig: string) =>
  `\nnino: interrupted (${sig}); finished work is saved, rerun the same command to resume\n`;
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
        stopLiveBars();
        process.stderr.write(interruptedLine(sig));
        process.exit(SIGNAL_EXIT[sig]);
      }, FORCE_EXIT_MS).unref();
    });
  }
  // `nino data list | head`: a closed pipe ends the output, it is not an error
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  // an empty variable means unset (commander would reject '' as a level, format or backend)
  for (const v of ['NINO_LOG_LEVEL', 'NINO_LOG_FORMAT', 'NINO_BACKEND'])
    if (process.env[v] === '') delete process.env[v];
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    stopLiveBars();
    if (e instanceof InterruptedError) {
      process.stderr.write(interruptedLine(e.signal));
      process.exitCode = SIGNAL_EXIT[e.signal] ?? EXIT.sigint;
      return;
    }
    const msg = (e as Error).message ?? String(e);
    process.stderr.write(`nino: error: ${msg}\n`);
    const debug = process.env.NINO_DEBUG || program.opts().logLevel === 'debug';
    if (debug && (e as Error).stack) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = exitCodeOf(e);
  }
}
