/**
 * Shards (core/shard.ts): --shard parsing, the Kubernetes and Slurm variables with every bad value,
 * the round-robin split (a partition, balanced per task and method), and the layout record that keeps
 * shards of different layouts out of one --out.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/core/errors.ts';
import {
  checkShardLayout,
  parseShardFlag,
  resolveShard,
  selectShard,
  shardFromEnv,
  SHARD_LAYOUT_FILE,
  type Shard,
} from '../src/core/shard.ts';

const expectInput = (f: () => unknown, re: RegExp) => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toContain('\n');
};

describe('--shard i/n', () => {
  it('parses 0-based i/n', () => {
    expect(parseShardFlag('0/4')).toMatchObject({ index: 0, count: 4 });
    expect(parseShardFlag(' 3 / 4 ')).toMatchObject({ index: 3, count: 4, source: '--shard 3/4' });
    expect(parseShardFlag('0/1')).toMatchObject({ index: 0, count: 1 });
  });

  it('rejects out-of-range and malformed values with one line', () => {
    expectInput(
      () => parseShardFlag('3/2'),
      /bad --shard '3\/2': shard index 3 is out of range for 2 shard\(s\) \(0-based: 0\.\.1\)/,
    );
    expectInput(() => parseShardFlag('2/2'), /out of range for 2 shard/);
    expectInput(() => parseShardFlag('0/0'), /shard count must be an integer >= 1 \(got 0\)/);
    for (const bad of ['x', '1', '1/', '/2', '-1/2', '1.5/2', '1/2/3', ''])
      expectInput(() => parseShardFlag(bad), /^bad --shard '.*'; use --shard i\/n with 0 <= i < n/);
  });

  it('the flag wins over the environment; nothing set means one shard', () => {
    expect(resolveShard('1/3', { JOB_COMPLETION_INDEX: '0', NINO_SHARD_COUNT: '5' })).toMatchObject({
      index: 1,
      count: 3,
    });
    expect(resolveShard(undefined, {})).toMatchObject({ index: 0, count: 1 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: '2', NINO_SHARD_COUNT: '5' })).toMatchObject({
      index: 2,
      count: 5,
    });
  });
});

describe('scheduler variables', () => {
  it('Kubernetes: JOB_COMPLETION_INDEX with NINO_SHARD_COUNT', () => {
    const s = shardFromEnv({ JOB_COMPLETION_INDEX: '3', NINO_SHARD_COUNT: '4' })!;
    expect(s).toMatchObject({ index: 3, count: 4 });
    expect(s.source).toBe('Kubernetes JOB_COMPLETION_INDEX=3, NINO_SHARD_COUNT=4');
    expectInput(
      () => shardFromEnv({ JOB_COMPLETION_INDEX: '3' }),
      /NINO_SHARD_COUNT=\(unset\) is not a non-negative integer; set NINO_SHARD_COUNT to the Indexed Job's completions/,
    );
    expectInput(
      () => shardFromEnv({ JOB_COMPLETION_INDEX: '4', NINO_SHARD_COUNT: '4' }),
      /JOB_COMPLETION_INDEX=4.*shard index 4 is out of range for 4/,
    );
    expectInput(
      () => shardFromEnv({ JOB_COMPLETION_INDEX: '0', NINO_SHARD_COUNT: '0' }),
      /shard count must be an integer >= 1/,
    );
    expectInput(
      () => shardFromEnv({ JOB_COMPLETION_INDEX: 'a', NINO_SHARD_COUNT: '2' }),
      /JOB_COMPLETION_INDEX='a' is not a non-negative integer/,
    );
    expectInput(() => shardFromEnv({ JOB_COMPLETION_INDEX: '1', NINO_SHARD_COUNT: '-2' }), /NINO_SHARD_COUNT='-2'/);
    // Kubernetes is read before Slurm (a pod never has both; the order only has to be fixed)
    expect(
      shardFromEnv({
        JOB_COMPLETION_INDEX: '1',
        NINO_SHARD_COUNT: '2',
        SLURM_ARRAY_TASK_ID: '0',
        SLURM_ARRAY_TASK_COUNT: '9',
      }),
    ).toMatchObject({ index: 1, count: 2 });
  });

  it('Slurm: the task id minus the array minimum (divided by the step)', () => {
    expect(
      shardFromEnv({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0' }),
    ).toMatchObject({ index: 0, count: 4 });
    // --array=1-4: ids 1..4 are shards 0..3
    const s = shardFromEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })!;
    expect(s).toMatchObject({ index: 3, count: 4 });
    expect(s.source).toBe('Slurm SLURM_ARRAY_TASK_ID=4, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=4');
    // --array=0-6:2 -> ids 0,2,4,6
    expect(
      shardFromEnv({
        SLURM_ARRAY_TASK_ID: '4',
        SLURM_ARRAY_TASK_COUNT: '4',
        SLURM_ARRAY_TASK_MIN: '0',
        SLURM_ARRAY_TASK_STEP: '2',
      }),
    ).toMatchObject({ index: 2, count: 4 });
    // no MIN exported (old Slurm): ids are taken as 0-based
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '3' })).toMatchObject({
      index: 2,
      count: 3,
    });
    expectInput(
      () => shardFromEnv({ SLURM_ARRAY_TASK_ID: '2' }),
      /SLURM_ARRAY_TASK_COUNT=\(unset\) is not a non-negative integer; run it in a job array/,
    );
    expectInput(
      () => shardFromEnv({ SLURM_ARRAY_TASK_ID: 'x', SLURM_ARRAY_TASK_COUNT: '2' }),
      /SLURM_ARRAY_TASK_ID='x'/,
    );
    expectInput(
      () => shardFromEnv({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '2', SLURM_ARRAY_TASK_MIN: '1' }),
      /not on the array's range/,
    );
    expectInput(
      () =>
        shardFromEnv({
          SLURM_ARRAY_TASK_ID: '3',
          SLURM_ARRAY_TASK_COUNT: '2',
          SLURM_ARRAY_TASK_MIN: '0',
          SLURM_ARRAY_TASK_STEP: '2',
        }),
      /not on the array's range/,
    );
    // --array=1,5,9 style lists with a count that does not cover the ids
    expectInput(
      () => shardFromEnv({ SLURM_ARRAY_TASK_ID: '9', SLURM_ARRAY_TASK_COUNT: '3', SLURM_ARRAY_TASK_MIN: '1' }),
      /shard index 8 is out of range for 3 shard\(s\) \(0-based: 0..2\); use a contiguous array such as --array=0-2/,
    );
    expectInput(
      () => shardFromEnv({ SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '0' }),
      /shard count must be an integer >= 1/,
    );
  });

  it('no scheduler variables: null', () => {
    expect(shardFromEnv({ NINO_SHARD_COUNT: '4' })).toBeNull();
    expect(shardFromEnv({})).toBeNull();
  });
});

describe('the split', () => {
  const jobs = [] as { task: string; method: string; seed: number }[];
  for (const task of ['FM-16-3k', 'C10-16'])
    for (const method of ['adam', 'linefit', 'nino'])
      for (const seed of [1, 2, 3, 10, 20]) jobs.push({ task, method, seed });
  const key = (j: (typeof jobs)[number]) => [j.task, j.method, j.seed];
  const sh = (index: number, count: number): Shard => ({ index, count, source: 't' });

  it('is a partition into parts of floor or ceil of J/n, each balanced per task and method', () => {
    for (const n of [1, 2, 3, 4, 7, 30, 31]) {
      const parts = Array.from({ length: n }, (_, i) => selectShard(jobs, key, sh(i, n)));
      const ids = parts.flat().map((j) => key(j).join('/'));
      expect(new Set(ids).size).toBe(jobs.length);
      expect(ids.length).toBe(jobs.length);
      for (const p of parts) {
        expect(p.length).toBeGreaterThanOrEqual(Math.floor(jobs.length / n));
        expect(p.length).toBeLessThanOrEqual(Math.ceil(jobs.length / n));
        for (const t of ['FM-16-3k', 'C10-16'])
          for (const m of ['adam', 'linefit', 'nino']) {
            const g = p.filter((j) => j.task === t && j.method === m).length;
            expect(g).toBeGreaterThanOrEqual(Math.floor(5 / n));
            expect(g).toBeLessThanOrEqual(Math.ceil(5 / n));
          }
      }
    }
  });

  it('does not depend on the order the jobs are given in, and sorts seeds as numbers', () => {
    const reversed = [...jobs].reverse();
    for (let i = 0; i < 4; i++) {
      const a = selectShard(jobs, key, sh(i, 4))
        .map((j) => key(j).join('/'))
        .sort();
      const b = selectShard(reversed, key, sh(i, 4))
        .map((j) => key(j).join('/'))
        .sort();
      expect(b).toEqual(a);
    }
    // sorted C10-16 < FM-16-3k, adam < linefit, 1 < 2 < 3 < 10 < 20: the first five go to shards 0..4
    const first = Array.from({ length: 5 }, (_, i) => selectShard(jobs, key, sh(i, 30))[0]);
    expect(first.map((j) => `${j.task}/${j.method}/${j.seed}`)).toEqual([
      'C10-16/adam/1',
      'C10-16/adam/2',
      'C10-16/adam/3',
      'C10-16/adam/10',
      'C10-16/adam/20',
    ]);
  });

  it('a shard with nothing to do gets an empty list', () => {
    expect(selectShard(jobs.slice(0, 2), key, sh(5, 6))).toEqual([]);
  });
});

describe('the shard layout in --out', () => {
  const keys = [
    ['FM-16-3k', 1],
    ['FM-16-3k', 2],
    ['FM-16-3k', 3],
  ];
  const sh = (index: number, count: number): Shard => ({ index, count, source: `--shard ${index}/${count}` });

  it('is recorded on first use and checked by every later shard', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nino-shard-')), 'out');
    checkShardLayout(out, sh(0, 2), 'collect', keys);
    const rec = JSON.parse(readFileSync(join(out, SHARD_LAYOUT_FILE), 'utf8'));
    expect(rec).toMatchObject({ count: 2, command: 'collect', jobs: 3 });
    const before = readFileSync(join(out, SHARD_LAYOUT_FILE), 'utf8');
    checkShardLayout(out, sh(1, 2), 'collect', [...keys].reverse()); // same jobs, other order: fine
    expectInput(
      () => checkShardLayout(out, sh(0, 3), 'collect', keys),
      /is split into 2 shards .* but this is shard 0\/3 \(--shard 0\/3\); use a count of 2, or remove .*\.shards\.json/,
    );
    expectInput(
      () => checkShardLayout(out, sh(0, 2), 'collect', keys.slice(0, 2)),
      /split over another job list \(3 jobs.*\(2 jobs/,
    );
    expect(readFileSync(join(out, SHARD_LAYOUT_FILE), 'utf8')).toBe(before);
    // one shard (no sharding) runs every job: no check, no record
    checkShardLayout(out, sh(0, 1), 'collect', keys.slice(0, 1));
    const plain = join(mkdtempSync(join(tmpdir(), 'nino-shard-')), 'out');
    checkShardLayout(plain, sh(0, 1), 'collect', keys);
    expect(existsSync(plain)).toBe(false);
  });

  it('a damaged record is an input error naming the file', () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-shard-'));
    writeFileSync(join(out, SHARD_LAYOUT_FILE), '{nope');
    expectInput(
      () => checkShardLayout(out, sh(0, 2), 'bench', keys),
      /\.shards\.json is not a shard layout .*; remove it/,
    );
  });
});
