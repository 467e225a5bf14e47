/**
 * What every command shares: logging (pino to stderr or --log-file), progress bars (cli-progress),
 * option parsing helpers, and turning errors into one-line messages with a non-zero exit.
 * Only src/cli knows about the terminal; library code gets a Logger and a ProgressFn.
 */
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { writeSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import { InputError } from '../core/errors.ts';
import { ensureDir } from '../core/fsutil.ts';
import type { Logger, ProgressFn } from '../core/logger.ts';
import { checkSeed, SEED_MAX } from '../core/rng.ts';

/** A bad option or argument (exit code 2, see core/errors.ts). */
export class UsageError extends InputError {}

export interface GlobalOpts {
  backend?: string;
  logFile?: string;
  logLevel?: string;
  logFormat?: LogFormat;
  progress?: boolean;
}

export type LogFormat = 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];

/** Human lines on a terminal, pino JSON when stderr is not a TTY (or with --log-format json). */
export function logFormatFor(o: GlobalOpts, stderrIsTTY = !!process.stderr.isTTY): LogFormat {
  return o.logFormat ?? (stderrIsTTY ? 'pretty' : 'json');
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const LEVEL_COLORS: Record<number, string> = { 20: '\x1b[2m', 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'stack', 'err']);

/**
 * One pino JSON record as one human line: `12:03:04 WARN  message  key=value ...`. Stacks (a `stack`
 * field, or `err.stack`) are shown only when `debug`; an `err` shows its message.
 */
export function formatLogLine(rec: Record<string, unknown>, o: { debug?: boolean; color?: boolean } = {}): string {
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const t = new Date(typeof rec.time === 'number' ? rec.time : Date.now());
  const hms = [t.getHours(), t.getMinutes(), t.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const tag = o.color && LEVEL_COLORS[level] ? `${LEVEL_COLORS[level]}${name}\x1b[0m` : name;
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HIDDEN.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`);
  const err = rec.err as { message?: string; stack?: string } | undefined;
  if (err?.message && err.message !== rec.msg) fields.push(`error=${JSON.stringify(err.message)}`);
  let line = `${hms} ${tag} ${String(rec.msg ?? '')}${fields.length ? `  ${fields.join(' ')}` : ''}`;
  const stack = (rec.stack as string | undefined) ?? err?.stack;
  if (o.debug && stack) line += `\n${stack}`;
  return line;
}

/** The progress bars drawing now (log lines must go through them so that a redraw does not overwrite them). */
let liveBars: cliProgress.MultiBar | null = null;
let liveBarsOnTTY = false;

/** Writes a finished line (with its newline) to stderr, above the live progress bars when there are any. */
export function writeStderrLine(line: string): void {
  if (liveBars?.isActive && liveBarsOnTTY) liveBars.log(line);
  else writeSync(2, line);
}

/** pino on stderr (human lines or JSON, see logFormatFor) or, with --log-file, JSON into that file. */
export function makeLogger(o: GlobalOpts): Logger {
  const level = o.logLevel ?? process.env.NINO_LOG_LEVEL ?? 'info';
  if (o.logFile) {
    ensureDir(dirname(o.logFile));
    return pino({ level }, pino.destination({ dest: o.logFile, sync: true, mkdir: true }));
  }
  if (logFormatFor(o) === 'json') return pino({ level }, { write: (s: string) => writeStderrLine(s) });
  const pretty = {
    debug: level === 'debug' || level === 'trace',
    color: !!process.stderr.isTTY && !process.env.NO_COLOR,
  };
  return pino({ level }, { write: (s: string) => writeStderrLine(`${formatLogLine(JSON.parse(s), pretty)}\n`) });
}

/**
 * Parses seeds: "A..B" (inclusive), a list "1,2,5", one number, or a list of both ("1..4,9").
 * Seeds are integers 0..SEED_MAX; a seed given twice (also "01,1" or "1..3,2") is an error.
 */
export function parseSeeds(s: string): number[] {
  const out: number[] = [];
  const bad = () =>
    new UsageError(`bad seeds '${s}': use A..B (e.g. 1..8), a list (1,2,5) or one number, seeds 0..${SEED_MAX}`);
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
    if (!(Number.isSafeInteger(n) && n >= 0 && n <= SEED_MAX))
      throw new UsageError(`--${name} must be an integer 0..${SEED_MAX} (got '${v}')`);
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
    .option(
      '--chunk-edges <n>',
      'GNN: process edge-wise layers in chunks of n edges (bounds memory)',
      parsePositiveInt('chunk-edges'),
    );
}

/**
 * One bar per running job id, with ETA; prints to stderr (also when it is not a terminal). While bars are
 * drawn, log lines are written through them (writeStderrLine), above the bars.
 */
export function makeProgress(
  enabled: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): { progress: ProgressFn; stop: () => void } {
  if (!enabled) return { progress: () => {}, stop: () => {} };
  const multi = new cliProgress.MultiBar(
    {
      format: '{id} |{bar}| {value}/{total} steps | ETA {eta_formatted} | {info}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: !stream.isTTY,
      notTTYSchedule: 30_000,
      stream,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  liveBars = multi;
  liveBarsOnTTY = !!stream.isTTY;
  const bars = new Map<string, cliProgress.SingleBar>();
  const progress: ProgressFn = (p) => {
    let b = bars.get(p.id);
    const info = p.info
      ? Object.entries(p.info)
          .map(([k, v]) => `${k} ${v}`)
          .join(' ')
      : '';
    if (!b) {
      b = multi.create(p.total, p.done, { id: p.id, info });
      bars.set(p.id, b);
    }
    b.setTotal(p.total);
    b.update(p.done, { id: p.id, info });
  };
  return { progress, stop: () => stopBars(multi) };
}

function stopBars(multi: cliProgress.MultiBar): void {
  if (liveBars === multi) liveBars = null;
  if (!multi.isActive) return;
  // cli-progress's stop() drops log lines still buffered: draw them first, then the bars again below
  // them (a bar skips drawing when its text is unchanged, which would leave it erased by the log line)
  for (const b of (multi as unknown as { bars: { lastDrawnString: string | null }[] }).bars) b.lastDrawnString = null;
  multi.update();
  multi.stop();
}

/** Stops the bars drawn now, if any (on a signal: restores the cursor, keeps buffered log lines). */
export function stopLiveBars(): void {
  if (liveBars) stopBars(liveBars);
}
