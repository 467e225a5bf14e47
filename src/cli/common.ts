/**
 * What every command shares: logging (pino to stderr or --log-file), progress bars (cli-progress),
 * option parsing helpers, and turning errors into one-line messages with a non-zero exit.
 * Only src/cli knows about the terminal; library code gets a Logger and a ProgressFn.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { InputError } from '../core/errors.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';

/** A bad option or argument (exit code 2, see core/errors.ts). */
export class UsageError extends InputError {}

export interface GlobalOpts {
  backend?: string;
  logFile?: string;
  logLevel?: string;
  progress?: boolean;
}

export function makeLogger(o: GlobalOpts): Logger {
  const level = o.logLevel ?? process.env.NINO_LOG_LEVEL ?? 'info';
  if (o.logFile) {
    mkdirSync(dirname(o.logFile), { recursive: true });
    return pino({ level }, pino.destination({ dest: o.logFile, sync: true, mkdir: true }));
  }
  return pino({ level }, pino.destination({ fd: 2, sync: true }));
}

/** Parses "A..B" (inclusive), "A,B,C" or "A" into a list of integers. */
export function parseSeeds(s: string): number[] {
  const m = /^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$/.exec(s);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (b < a) throw new UsageError(`bad seed range '${s}': end ${b} is before start ${a}`);
    if (b - a >= 100_000) throw new UsageError(`seed range '${s}' is too large`);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length === 0 || parts.some((x) => !/^-?\d+$/.test(x))) {
    throw new UsageError(`bad seeds '${s}': use A..B (e.g. 1..8), a list (1,2,5) or one number`);
  }
  return parts.map(Number);
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
