/**
 * Splitting the jobs of one `nino collect` / `nino bench` over n machines: which shard this process is
 * (`--shard i/n`, or a scheduler's variables), which jobs are its part, and the layout record in the
 * shared output folder that keeps shards of different layouts from mixing.
 *
 * Shard indices are 0-based (`--shard 0/4` .. `--shard 3/4`), like Kubernetes' JOB_COMPLETION_INDEX.
 * Without --shard the index and count come from, in this order:
 *   - Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX (0-based) and NINO_SHARD_COUNT (set it to the Job's
 *     `completions`; Kubernetes does not export that number);
 *   - Slurm job arrays: SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MIN (and
 *     SLURM_ARRAY_TASK_STEP): index = (ID - MIN) / STEP, so `--array=1-4` and `--array=0-3` both work.
 * No flag and none of these: one shard (0/1), every job.
 *
 * Assignment: round-robin over the job list sorted by its key (task, then method, then seed), job j to
 * shard j mod n. Every shard gets floor(J/n) or ceil(J/n) jobs, and since consecutive jobs share their
 * task and method, every shard also gets within one of its share of each task's and each method's runs
 * (a hash of the key mod n can leave one shard with twice the work of another, or none, at small J).
 *
 *   const shard = resolveShard(o.shard);                 // { index: 1, count: 4, source: '--shard 1/4' }
 *   const mine = selectShard(jobs, (j) => [j.task, j.seed], shard);
 *   checkShardLayout(o.out, shard, 'collect', jobs.map((j) => [j.task, j.seed]));   // before any file is written
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from './errors.ts';
import { createFileExclusive, ensureDir } from './fsutil.ts';

export interface Shard {
  /** 0-based */
  index: number;
  count: number;
  /** where index and count came from, for the log ('--shard 1/4', 'Kubernetes JOB_COMPLETION_INDEX=1, NINO_SHARD_COUNT=4', ...) */
  source: string;
}

export const NO_SHARD: Shard = { index: 0, count: 1, source: 'no --shard and no scheduler variables: all jobs' };

/** the layout record in a sharded output folder */
export const SHARD_LAYOUT_FILE = '.shards.json';

const INT = /^\s*\d+\s*$/;

function checkIndex(index: number, count: number, what: string, fix: string): void {
  if (!(Number.isSafeInteger(count) && count >= 1))
    throw new InputError(`${what}: the shard count must be an integer >= 1 (got ${count}); ${fix}`);
  if (!(Number.isSafeInteger(index) && index >= 0 && index < count))
    throw new InputError(
      `${what}: shard index ${index} is out of range for ${count} shard(s) (0-based: 0..${count - 1}); ${fix}`,
    );
}

/** `--shard i/n`: 0 <= i < n. */
export function parseShardFlag(v: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v);
  const fix = 'use --shard i/n with 0 <= i < n, e.g. --shard 0/4 .. --shard 3/4';
  if (!m) throw new InputError(`bad --shard '${v}'; ${fix}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  checkIndex(index, count, `bad --shard '${v}'`, fix);
  return { index, count, source: `--shard ${index}/${count}` };
}

function envInt(env: NodeJS.ProcessEnv, name: string, fix: string): number {
  const v = env[name];
  if (v === undefined || !INT.test(v))
    throw new InputError(`${name}=${v === undefined ? '(unset)' : `'${v}'`} is not a non-negative integer; ${fix}`);
  return Number(v);
}

/** The shard given by a scheduler's variables (the CLI passes process.env), or null when none is set. */
export function shardFromEnv(env: NodeJS.ProcessEnv): Shard | null {
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const fix = "set NINO_SHARD_COUNT to the Indexed Job's completions (see examples/), or give --shard i/n";
    const index = envInt(env, 'JOB_COMPLETION_INDEX', fix);
    const count = envInt(env, 'NINO_SHARD_COUNT', fix);
    const src = `Kubernetes JOB_COMPLETION_INDEX=${index}, NINO_SHARD_COUNT=${count}`;
    checkIndex(index, count, src, fix);
    return { index, count, source: src };
  }
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const fix = 'run it in a job array (sbatch --array=0-N), or give --shard i/n';
    const id = envInt(env, 'SLURM_ARRAY_TASK_ID', fix);
    const count = envInt(env, 'SLURM_ARRAY_TASK_COUNT', fix);
    const min = env.SLURM_ARRAY_TASK_MIN === undefined ? 0 : envInt(env, 'SLURM_ARRAY_TASK_MIN', fix);
    const step = env.SLURM_ARRAY_TASK_STEP === undefined ? 1 : envInt(env, 'SLURM_ARRAY_TASK_STEP', fix);
    const src = `Slurm SLURM_ARRAY_TASK_ID=${id}, SLURM_ARRAY_TASK_MIN=${min}, SLURM_ARRAY_TASK_COUNT=${count}${step !== 1 ? `, SLURM_ARRAY_TASK_STEP=${step}` : ''}`;
    const rangeFix =
      'use a contiguous array such as --array=0-' +
      Math.max(0, count - 1) +
      ' (or a step, --array=0-10:2), or give --shard i/n';
    if (step < 1 || id < min || (id - min) % step !== 0)
      throw new InputError(`${src}: the task id is not on the array's range; ${rangeFix}`);
    const index = (id - min) / step;
    checkIndex(index, count, src, rangeFix);
    return { index, count, source: src };
  }
  return null;
}

/** --shard when given, else the scheduler's variables in `env` (the CLI passes process.env), else one shard. */
export function resolveShard(flag: string | undefined, env: NodeJS.ProcessEnv): Shard {
  if (flag !== undefined) return parseShardFlag(flag);
  return shardFromEnv(env) ?? NO_SHARD;
}

/** Orders job keys: element-wise, numbers numerically, strings by code unit. */
function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

/** This shard's part of `jobs` (in their original order): round-robin over the jobs sorted by key. */
export function selectShard<T>(jobs: readonly T[], key: (j: T) => readonly (string | number)[], shard: Shard): T[] {
  if (shard.count === 1) return [...jobs];
  const keys = jobs.map(key);
  const order = jobs.map((_, i) => i).sort((a, b) => compareKeys(keys[a], keys[b]));
  const mine = new Set(order.filter((_, rank) => rank % shard.count === shard.index));
  return jobs.filter((_, i) => mine.has(i));
}

export interface ShardLayout {
  count: number;
  /** which command made it */
  command: string;
  /** number of jobs and a hash of their sorted keys: shards of one layout split the same job list */
  jobs: number;
  jobsHash: string;
  created: string;
}

function jobsHash(keys: readonly (readonly (string | number)[])[]): string {
  const sorted = [...keys].sort(compareKeys);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

/**
 * With more than one shard: checks `<outDir>/.shards.json` against this shard's count and job list
 * (InputError on a difference, before anything is written), and records it on first use (exclusive
 * create, so two shards starting at once agree on one record). One shard (no sharding) neither checks
 * nor records: it runs every job, which never splits anything wrongly.
 */
export function checkShardLayout(
  outDir: string,
  shard: Shard,
  command: string,
  keys: readonly (readonly (string | number)[])[],
): void {
  if (shard.count === 1) return;
  const path = join(outDir, SHARD_LAYOUT_FILE);
  const mine: ShardLayout = {
    count: shard.count,
    command,
    jobs: keys.length,
    jobsHash: jobsHash(keys),
    created: new Date().toISOString(),
  };
  const compare = (have: ShardLayout) => {
    const fix = `remove ${path} if no shard of that layout still runs, or use another --out`;
    if (have.count !== mine.count)
      throw new InputError(
        `${outDir} is split into ${have.count} shards (${path}) but this is shard ${shard.index}/${shard.count} (${shard.source}); use a count of ${have.count}, or ${fix}`,
      );
    if (have.jobsHash !== mine.jobsHash)
      throw new InputError(
        `${outDir} is split over another job list (${have.jobs} jobs, ${path}) than this ${command} (${mine.jobs} jobs: other tasks, seeds or methods); give every shard the same arguments, or ${fix}`,
      );
  };
  const read = (): ShardLayout | undefined => {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as ShardLayout;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new InputError(`${path} is not a shard layout (${(e as Error).message}); remove it`);
    }
  };
  const have = read();
  if (have) return compare(have);
  ensureDir(outDir);
  if (!createFileExclusive(path, JSON.stringify(mine, null, 1) + '\n')) compare(read()!); // another shard recorded it first
}

/** Reads a folder's shard layout without checking anything (null when it has none). */
export function readShardLayout(outDir: string): ShardLayout | null {
  try {
    return JSON.parse(readFileSync(join(outDir, SHARD_LAYOUT_FILE), 'utf8')) as ShardLayout;
  } catch {
    return null;
  }
}
