/**
 * Sharded collect and bench through the real CLI (bin/nino, the compiled package): two shard processes
 * sharing one --out give the same trajectory files (same parameter bytes, metrics and metadata) and, after the --report-only merge, the
 * same steps-to-target table as one unsharded process; the merge names runs still missing; bad --shard
 * values and a shard count that disagrees with --out exit 2 with one line and write nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTrajectory } from '../src/trajectories/arrow.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const common = ['--backend', 'wasm', '--no-progress', '--log-level', 'info', '--log-format', 'pretty'];
let dataDir = '';

/** the test's environment without scheduler variables (the suite itself may run inside a Slurm job) */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NINO_OFFLINE: '1' };
  for (const k of Object.keys(env))
    if (/^(SLURM_ARRAY_|JOB_COMPLETION_INDEX$|NINO_SHARD_COUNT$)/.test(k)) delete env[k];
  return { ...env, ...extra };
}

interface Res {
  status: number | null;
  stdout: string;
  stderr: string;
}

function nino(args: string[], env: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve) => {
    const child = spawn(BIN, [...common, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function ninoSync(args: string[], env: Record<string, string> = {}): Res {
  const r = spawnSync(BIN, [...common, ...args], { encoding: 'utf8', env: cleanEnv(env), timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** every file under dir (relative paths), leaving out the shard layout record */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f !== '.shards.json') out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

beforeAll(() => {
  dataDir = writeFakeFashionMnist(mkdtempSync(join(tmpdir(), 'nino-shard-fm-')));
});

describe('sharded collect', () => {
  it('two shards (--shard and the Kubernetes variables) write the same trajectory files as one process', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-shard-collect-'));
    const args = (out: string) => [
      'collect',
      '--task',
      'FM-16-3k',
      '--seeds',
      '1,2,3',
      '--steps',
      '8',
      '--every',
      '4',
      '--workers',
      '1',
      '--eval-limit',
      '20',
      '--data-dir',
      dataDir,
      '--out',
      out,
    ];
    const one = join(root, 'one');
    const many = join(root, 'many');
    const [whole, s0, s1] = await Promise.all([
      nino(args(one)),
      nino([...args(many), '--shard', '0/2']),
      nino(args(many), { JOB_COMPLETION_INDEX: '1', NINO_SHARD_COUNT: '2' }),
    ]);
    for (const r of [whole, s0, s1]) expect(r.status, r.stderr).toBe(0);
    // round-robin over seeds 1, 2, 3: shard 0 gets 1 and 3, shard 1 gets 2
    expect(s0.stdout).toMatch(/collected 2 trajectories .*\(shard 0\/2: 2 of 3 trajectories\)/);
    expect(s1.stdout).toMatch(/collected 1 trajectories .*\(shard 1\/2: 1 of 3 trajectories\)/);
    expect(s0.stderr).toMatch(/shard 0\/2: 2 of 3 trajectories .*from="--shard 0\/2"/);
    expect(s1.stderr).toMatch(/from="Kubernetes JOB_COMPLETION_INDEX=1, NINO_SHARD_COUNT=2"/);
    const names = files(one);
    expect(names).toEqual(['FM-16-3k/seed-1.arrow', 'FM-16-3k/seed-2.arrow', 'FM-16-3k/seed-3.arrow']);
    expect(files(many)).toEqual(names);
    // the same bytes of parameters at every record, the same metrics and metadata (the file's creation
    // time aside: Arrow metadata holds when it was written)
    for (const f of names) {
      const a = readTrajectory(join(one, f));
      const b = readTrajectory(join(many, f));
      expect(b.records.map((r) => r.step)).toEqual([0, 4, 8]);
      expect(b.records.map((r) => r.step)).toEqual(a.records.map((r) => r.step));
      b.records.forEach((r, i) => {
        expect(
          Buffer.from(r.params.buffer, r.params.byteOffset, r.params.byteLength).equals(
            Buffer.from(a.records[i].params.buffer, a.records[i].params.byteOffset, a.records[i].params.byteLength),
          ),
          `${f} step ${r.step}`,
        ).toBe(true);
        expect(r.metrics).toEqual(a.records[i].metrics);
      });
      expect({ ...b.meta, created: null }).toEqual({ ...a.meta, created: null });
    }
    expect(JSON.parse(readFileSync(join(many, '.shards.json'), 'utf8'))).toMatchObject({
      count: 2,
      command: 'collect',
      jobs: 3,
    });
    expect(existsSync(join(one, '.shards.json'))).toBe(false);

    // a shard count that disagrees with --out, and bad --shard values: exit 2, one line, nothing written
    const before = files(many);
    const layout = readFileSync(join(many, '.shards.json'), 'utf8');
    const bad = ninoSync([...args(many), '--shard', '0/3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(
      /nino: error: .*many is split into 2 shards .*but this is shard 0\/3 \(--shard 0\/3\); use a count of 2/,
    );
    const badEnv = ninoSync(args(many), {
      SLURM_ARRAY_TASK_ID: '1',
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_COUNT: '4',
    });
    expect(badEnv.status).toBe(2);
    expect(badEnv.stderr).toMatch(
      /split into 2 shards .*\(Slurm SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=4\)/,
    );
    expect(files(many)).toEqual(before);
    expect(readFileSync(join(many, '.shards.json'), 'utf8')).toBe(layout);
    const fresh = join(root, 'fresh');
    for (const [v, re] of [
      ['3/2', /bad --shard '3\/2': shard index 3 is out of range for 2 shard\(s\)/],
      ['0/0', /bad --shard '0\/0': the shard count must be an integer >= 1/],
      ['x', /bad --shard 'x'; use --shard i\/n/],
    ] as const) {
      const r = ninoSync([...args(fresh), '--shard', v]);
      expect(r.status, v).toBe(2);
      expect(r.stderr.trim().split('\n'), v).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
    const noCount = ninoSync(args(fresh), { JOB_COMPLETION_INDEX: '0' });
    expect(noCount.status).toBe(2);
    expect(noCount.stderr).toMatch(/NINO_SHARD_COUNT=\(unset\) is not a non-negative integer/);
    expect(existsSync(fresh)).toBe(false);
  }, 90_000);
});

describe('sharded bench', () => {
  it('two shards (Slurm array variables) then --report-only give the table of one unsharded process', async () => {
    const bench = (out: string) => [
      'bench',
      '--task',
      'FM-16-3k',
      '--seeds',
      '1,2',
      '--nowcaster',
      'linefit',
      '--budget',
      '10',
      '--eval-every',
      '2',
      '--period',
      '5',
      '--eval-limit',
      '20',
      '--workers',
      '1',
      '--data-dir',
      dataDir,
      '--out',
      out,
    ];
    // separate parents: each has its own Adam cache (<out>/../.adam-cache), so no result is shared
    const one = join(mkdtempSync(join(tmpdir(), 'nino-shard-bench-')), 'out');
    const many = join(mkdtempSync(join(tmpdir(), 'nino-shard-bench-')), 'out');
    const slurm = (id: number) => ({
      SLURM_ARRAY_TASK_ID: String(id),
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_COUNT: '2',
    });
    const [whole, s0] = await Promise.all([nino(bench(one)), nino(bench(many), slurm(1))]);
    for (const r of [whole, s0]) expect(r.status, r.stderr).toBe(0);
    expect(s0.stderr).toMatch(
      /shard 0\/2: 2 of 4 runs .*from="Slurm SLURM_ARRAY_TASK_ID=1, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=2"/,
    );
    expect(s0.stdout).toMatch(/^shard 0\/2 .*: 2 runs stored in /);
    expect(existsSync(join(many, 'summary.md'))).toBe(false); // a shard writes no report

    // the merge before the second shard ran: the stored half, and the missing runs named
    const merge = [...bench(many), '--report-only'];
    const part = ninoSync(merge);
    expect(part.status, part.stderr).toBe(0);
    // sorted (task, method, seed) round-robin: shard 0 has adam/seed-1 and linefit/seed-1
    expect(part.stdout).toMatch(
      /missing: 2 of 4 runs are not stored yet: FM-16-3k\/adam\/seed-2, FM-16-3k\/linefit\/seed-2/,
    );
    expect(readFileSync(join(many, 'summary.md'), 'utf8')).toMatch(/missing: 2 of 4 runs/);
    const strict = ninoSync([...merge, '--require-complete']);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toMatch(
      /nino: error: --require-complete: 2 runs are not stored in .* yet \(FM-16-3k\/adam\/seed-2, FM-16-3k\/linefit\/seed-2\)/,
    );

    const s1 = await nino(bench(many), slurm(2));
    expect(s1.status, s1.stderr).toBe(0);
    expect(s1.stdout).toMatch(/^shard 1\/2 .*: 2 runs stored in /);
    const full = ninoSync([...merge, '--require-complete']);
    expect(full.status, full.stderr).toBe(0);
    expect(full.stdout).not.toMatch(/missing/);

    // the same table: every column but the wall-clock ones (wall s, nowcast %), and the same curves
    const table = (s: string) =>
      s
        .split('\n')
        .filter((l) => l.startsWith('| FM-16-3k'))
        .map((l) =>
          l
            .split('|')
            .slice(1, -3)
            .map((c) => c.trim()),
        );
    expect(table(full.stdout)).toHaveLength(2);
    expect(table(full.stdout)).toEqual(table(whole.stdout));
    const summary = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
    const strip = (rows: Record<string, unknown>[]) => rows.map(({ wallSeconds, nowcastShare, ...r }) => r);
    const a = summary(one);
    const b = summary(many);
    expect(strip(b.rows)).toEqual(strip(a.rows));
    const curves = (x: {
      runs: { task: string; method: string; seed: number; curve: unknown; stepsToTarget: unknown }[];
    }) => x.runs.map((r) => [r.task, r.method, r.seed, r.curve, r.stepsToTarget]);
    expect(curves(b)).toEqual(curves(a));
    expect(b.missing).toEqual([]);

    // the merge takes no --shard; --require-complete needs --report-only
    const m1 = ninoSync([...merge, '--shard', '0/2']);
    expect(m1.status).toBe(2);
    expect(m1.stderr).toMatch(/--report-only merges the runs of every shard; give it without --shard/);
    const m2 = ninoSync([...bench(many), '--require-complete']);
    expect(m2.status).toBe(2);
    expect(m2.stderr).toMatch(/--require-complete goes with --report-only/);
    // a shard count that disagrees with --out: nothing written
    const before = files(many);
    const bad = ninoSync([...bench(many), '--shard', '2/3']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/is split into 2 shards/);
    expect(files(many)).toEqual(before);
  }, 120_000);
});
