/**
 * examples/ (Slurm array scripts, Kubernetes Indexed Job manifests): every nino option they use exists
 * (checked against the real CLI's --help), NINO_SHARD_COUNT equals the Job's completions, and each merge
 * asks for the same bench as the shards it merges.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const EX = join(ROOT, 'examples');
const helps = new Map<string, string>();
/** the command's --help and the global options' (each spawned once) */
function help(cmd: string): string {
  const run = (a: string[]) => spawnSync(join(ROOT, 'bin', 'nino'), a, { encoding: 'utf8' }).stdout;
  if (!helps.has(cmd)) helps.set(cmd, run([cmd, '--help']) + run(['--help']));
  return helps.get(cmd)!;
}

/** the nino command of a Slurm script (backslash continuations joined), as tokens after `nino` */
function slurmCommand(file: string): string[] {
  const text = readFileSync(join(EX, 'slurm', file), 'utf8').replace(/\\\n/g, ' ');
  const line = text.split('\n').find((l) => /^nino /.test(l));
  if (!line) throw new Error(`${file}: no nino command`);
  return line
    .split(/\s+/)
    .filter(Boolean)
    .slice(1)
    .map((t) => t.replace(/^"|"$/g, ''));
}

/** the nino commands of a Kubernetes manifest: command (after `nino`) + args of every container */
function k8sCommands(file: string): { tokens: string[]; completions?: number; shardCount?: number }[] {
  const docs = readFileSync(join(EX, 'kubernetes', file), 'utf8').split(/^---$/m);
  return docs.map((d) => {
    const arr = (key: string) => {
      const m = new RegExp(`${key}: \\[([^\\]]*)\\]`, 's').exec(d);
      return m ? (JSON.parse(`[${m[1]}]`) as string[]) : [];
    };
    const completions = /completions: (\d+)/.exec(d);
    const count = /name: NINO_SHARD_COUNT\s+value: "(\d+)"/.exec(d);
    return {
      tokens: [...arr('command').slice(1), ...arr('args')],
      completions: completions ? Number(completions[1]) : undefined,
      shardCount: count ? Number(count[1]) : undefined,
    };
  });
}

function expectKnownOptions(tokens: string[], where: string) {
  const cmd = tokens.find((t) => t === 'collect' || t === 'bench');
  expect(cmd, where).toBeDefined();
  const text = help(cmd!);
  for (const t of tokens.filter((x) => x.startsWith('--'))) expect(text, `${where}: ${t}`).toContain(t);
}

/** the bench a command asks for: its arguments without the ones that only say how or where it runs */
function benchOf(tokens: string[]): string[] {
  const drop = new Set(['--report-only', '--require-complete', '--no-progress']);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (drop.has(tokens[i])) continue;
    if (['--workers', '--data-dir', '--log-format'].includes(tokens[i])) {
      i++;
      continue;
    }
    out.push(tokens[i]);
  }
  return out;
}

describe('examples', () => {
  it('Slurm scripts use real options, and the merge asks for the bench the array runs', () => {
    for (const f of ['collect.sbatch', 'bench.sbatch', 'bench-merge.sbatch']) expectKnownOptions(slurmCommand(f), f);
    expect(slurmCommand('bench-merge.sbatch')).toContain('--report-only');
    expect(benchOf(slurmCommand('bench-merge.sbatch'))).toEqual(benchOf(slurmCommand('bench.sbatch')));
    expect(readFileSync(join(EX, 'slurm', 'bench.sh'), 'utf8')).toMatch(/--dependency="afterok:/);
  });

  it('Kubernetes manifests use real options, NINO_SHARD_COUNT = completions, and the merge matches the shards', () => {
    const [collect] = k8sCommands('collect-job.yaml');
    expectKnownOptions(collect.tokens, 'collect-job.yaml');
    expect(collect.shardCount).toBe(collect.completions);
    const [shards, merge] = k8sCommands('bench-job.yaml');
    expectKnownOptions(shards.tokens, 'bench-job.yaml shards');
    expectKnownOptions(merge.tokens, 'bench-job.yaml merge');
    expect(shards.shardCount).toBe(shards.completions);
    expect(merge.tokens).toContain('--report-only');
    expect(benchOf(merge.tokens)).toEqual(benchOf(shards.tokens));
  });
});
