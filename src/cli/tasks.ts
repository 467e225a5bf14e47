/** `nino tasks`: list the task registry. */
import type { Command } from 'commander';
import { listTasks } from '../tasks/registry.ts';

export function registerTasks(program: Command): void {
  program
    .command('tasks')
    .description('list the known tasks (the paper\'s nine and the CPU-scale variants)')
    .option('--json', 'print the full task specs as JSON')
    .action((o: { json?: boolean }) => {
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
