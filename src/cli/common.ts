/**
 * What every command shares: logging (pino to stderr or --log-file), progress bars (cli-progress),
 * option parsing helpers, and turning errors into one-line messages with a non-zero exit.
 * Only src/cli knows about the terminal; library code gets a Logger and a ProgressFn.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { dirname } from 'node:path';
import pino from 'pino';
import { ensureDir } from '../core/fsutil.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { checkSeed, SEED_MAX } from '../core/rng.ts';

export class UsageError extends Error {}

export interface GlobalOpts {
  backend?: string;
  logFile?: string;
  logLevel?: string;
  progress?: boolean;
}

export function makeLogger(o: GlobalOpts): Logger {
  const level = o.logLevel ?? process.env.NINO_LOG_LEVEL ?? 'info';
  if (o.logFile) {
    ensureDir(dirname(o.logFile));
    return pino({ level }, pino.destination({ dest: o.logFile, sync: true, mkdir: true }));
  }
  return pino({ level }, pino.destination({ fd: 2, sync: true }));
}

/**
 * Parses seeds: "A..B" (inclusive), a list "1,2,5", one number, or a list of both ("1..4,9").
 * Seeds are integers 0..SEED_MAX; a seed given twice (also "01,1" or "1..3,2") is an error.
 */
export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  const bad = () => new UsageError(`bad seeds '${s}': use A..B (e.g. 1..8), a list (1,2,5) or one number, seeds 0..${SEED_MAX}`);
  for (const part of s.split(',')) {
    const m = /^\s*(-?\d+)\s*(?:\.\.\s*(-?\d+)\s*)?$/.exec(part);
    if (!m) throw bad();
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (const x of [a, b]) {
      try {
        checkSeed(x);
      } catch (e) {
        throw new UsageError(`bad seeds '${s}': ${(e as Error).message}`);
      }
    }
    if (b < a) throw new UsageError(`bad seed range '${part.trim()}': end ${b} is before start ${a}`);
    if (b - a >= 100_000 || out.length + b - a >= 100_000) throw new UsageError(`seed range '${s}' is too large`);
    for (let x = a; x <= b; x++) out.push(x);
  }
  const seen = new Set<number>();
  for (const x of out) {
    if (seen.has(x)) throw new UsageError(`bad seeds '${s}': seed ${x} is given twice`);
    seen.add(x);
  }
  return out;
}

/** One seed (e.g. train-nino --seed): an integer 0..SEED_MAX. */
export function parseSeed(name: string) {
  return (v: string): number => {
    const n = /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!(Number.isSafeInteger(n) && n >= 0 && n <= SEED_MAX)) throw new UsageError(`--${name} must be an integer 0..${SEED_MAX} (got '${v}')`);
    return n;
  };
}

export function parsePositiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive integer (got '${v}')`);
    return n;
  };
}

export function parsePositiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number (got '${v}')`);
    return n;
  };
}

export function parseFraction(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n >= 1) throw new UsageError(`expected a fraction in [0, 1) (got '${v}')`);
  return n;
}

/** The nowcaster inference options shared by `bench` and `nowcast`. */
export function addInferenceOptions(cmd: Command): Command {
  return cmd
    .option('--subgraph', 'nowcast transformers one block at a time (bounds memory on deep models)')
    .option('--edge-sample-ratio <r>', 'GNN: fraction of edges dropped from message passing (0..1)', parseFraction)
    .option('--chunk-edges <n>', 'GNN: process edge-wise layers in chunks of n edges (bounds memory)', parsePositiveInt('chunk-edges'));
}

/** One bar per running job id, with ETA; prints to stderr (also when it is not a terminal). */
export function makeProgress(enabled: boolean): { progress: ProgressFn; stop: () => void } {
  if (!enabled) return { progress: () => {}, stop: () => {} };
  const multi = new cliProgress.MultiBar(
    {
      format: '{id} |{bar}| {value}/{total} steps | ETA {eta_formatted} | {info}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: !process.stderr.isTTY,
      notTTYSchedule: 30_000,
      stream: process.stderr,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  const progress: ProgressFn = (p) => {
    let b = bars.get(p.id);
    const info = p.info ? Object.entries(p.info).map(([k, v]) => `${k} ${v}`).join(' ') : '';
    if (!b) {
      b = multi.create(p.total, p.done, { id: p.id, info });
      bars.set(p.id, b);
    }
    b.setTotal(p.total);
    b.update(p.done, { id: p.id, info });
  };
  return { progress, stop: () => multi.stop() };
}
