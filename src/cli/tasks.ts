/**
 * `nino tasks`: list the task registry; `--show NAME` prints a task as a task file (the built-ins are
 * the examples of schemas/task.schema.json); `--check FILE` ('-' = stdin) validates a task file, checks
 * its data against its model, and prints the resolved definition.
 */
import type { Command } from 'commander';
import { getTask, listTasks } from '../tasks/registry.ts';
import { checkTaskData } from '../tasks/runtime.ts';
import { loadTaskFile, taskToFile } from '../tasks/taskfile.ts';
import { readEnv } from './env.ts';
import { UsageError } from './common.ts';

export function registerTasks(program: Command): void {
  program
    .command('tasks')
    .description("list the known tasks (the paper's nine and the CPU-scale variants); show or check task files")
    .option('--json', 'print the full task specs as JSON')
    .option('--show <name>', 'print a task (a built-in name or a task file) in the task file format')
    .option(
      '--check <file>',
      "validate a task file ('-' reads stdin), check its data, and print the resolved definition",
    )
    .addHelpText('after', '\nExamples:\n  nino tasks --show FM-16-3k > my-task.json\n  nino tasks --check my-task.json')
    .action(async (o: { json?: boolean; show?: string; check?: string }) => {
      if (o.show && o.check) throw new UsageError('give either --show or --check, not both');
      if (o.show) {
        process.stdout.write(JSON.stringify(taskToFile(getTask(o.show)), null, 2) + '\n');
        return;
      }
      if (o.check) {
        const spec = loadTaskFile(o.check);
        await checkTaskData(spec, readEnv().source);
        process.stdout.write(JSON.stringify(spec, null, 2) + '\n');
        return;
      }
      const tasks = listTasks();
      if (o.json) {
        process.stdout.write(JSON.stringify(tasks, null, 2) + '\n');
        return;
      }
      const rows = tasks.map((t) => [
        t.name,
        t.paper ? 'paper' : 'cpu',
        t.dataset,
        `${t.steps}`,
        `${t.target.metric} ${t.target.metric === 'acc' ? '>=' : '<='} ${t.target.value}`,
        t.description,
      ]);
      const head = ['task', 'kind', 'data', 'steps', 'target', 'description'];
      const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join('  ');
      process.stdout.write([line(head), ...rows.map(line)].join('\n') + '\n');
    });
}
