/**
 * The nino command line: `nino collect | train-nino | bench | nowcast | tasks`.
 * Each command file registers itself on the program and calls one library function.
 * Errors print as one line (`nino: error: ...`) with exit code 1 (2 for usage errors).
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
import { exitCodeOf } from '../core/errors.ts';

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
  registerData(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // Work is checkpointed as it goes (collect, train-nino, bench resume on rerun): stop promptly on a signal.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nnino: interrupted (${sig}); finished work is saved, rerun the same command to resume\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
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
    const msg = (e as Error).message ?? String(e);
    process.stderr.write(`nino: error: ${msg}\n`);
    if (process.env.NINO_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = exitCodeOf(e);
  }
}
