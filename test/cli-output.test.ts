/**
 * What a person sees on stderr: human log lines on a terminal and JSON otherwise, log lines written
 * through live progress bars (never overwritten), a main-thread job that lets the bars redraw,
 * NINO_LOG_LEVEL honoured, and a worker job's error printed once.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatLogLine, logFormatFor, makeProgress, writeStderrLine } from '../src/cli/common.ts';
import type { Optimizer } from '../src/optim/types.ts';
import type { TaskRuntime } from '../src/tasks/runtime.ts';
import { trainRun } from '../src/training/loop.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const BIN = fileURLToPath(new URL('../bin/nino', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'nino-out-'));

class FakeTTY extends Writable {
  isTTY = true;
  columns = 120;
  out = '';
  override _write(c: Buffer, _e: string, cb: () => void) {
    this.out += c.toString();
    cb();
  }
}

describe('log lines', () => {
  it('a human line: time, level, message, fields; no pid/hostname; the stack only at debug', () => {
    const rec = {
      level: 50,
      time: Date.UTC(2026, 0, 1, 12, 3, 4),
      pid: 7,
      hostname: 'vm',
      msg: 'job failed',
      jobId: 2,
      file: 'a b.gz',
      stack: 'Error: x\n    at f (a.ts:1)',
    };
    const line = formatLogLine(rec);
    expect(line).toMatch(/^\d\d:\d\d:\d\d ERROR job failed {2}jobId=2 file="a b.gz"$/);
    expect(line).not.toContain('vm');
    expect(formatLogLine(rec, { debug: true })).toContain('\n    at f (a.ts:1)');
    expect(formatLogLine({ level: 40, msg: 'slow', err: { message: 'disk', stack: 's' } })).toMatch(
      /WARN {2}slow {2}error="disk"$/,
    );
  });

  it('human lines on a terminal, JSON otherwise; --log-format wins', () => {
    expect(logFormatFor({}, true)).toBe('pretty');
    expect(logFormatFor({}, false)).toBe('json');
    expect(logFormatFor({ logFormat: 'json' }, true)).toBe('json');
    expect(logFormatFor({ logFormat: 'pretty' }, false)).toBe('pretty');
  });

  it('while bars are drawn on a terminal, a log line goes through them (above the bars) and survives stop()', () => {
    const tty = new FakeTTY();
    const bars = makeProgress(true, tty as unknown as NodeJS.WriteStream);
    bars.progress({ id: 'FM-16-3k/seed-1', done: 3, total: 10 });
    writeStderrLine('12:00:00 INFO  trajectory complete\n');
    expect(tty.out).not.toContain('trajectory complete'); // buffered until the next redraw, not written into the bar line
    bars.stop();
    const i = tty.out.indexOf('12:00:00 INFO  trajectory complete\n');
    expect(i).toBeGreaterThan(0);
    // the bar is drawn again after the log line, on its own line
    expect(tty.out.slice(i)).toMatch(/trajectory complete\n.*FM-16-3k\/seed-1 \|/s);
  });
});

describe('a job on the main thread', () => {
  it('trainRun lets timers (bar redraws, signals) run while it trains', async () => {
    const busy = (ms: number) => {
      const t = performance.now();
      while (performance.now() - t < ms);
    };
    const runtime = { evaluate: () => ({}) } as unknown as TaskRuntime;
    const optimizer = { needGrads: false, step: () => busy(4) } as unknown as Optimizer;
    const sampler = { next: () => ({ x: { dispose() {} }, y: { dispose() {} } }) } as never;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    try {
      await trainRun({ runtime, optimizer, params: [], sampler, steps: 150, evalEvery: 1000 });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThanOrEqual(3); // 150 steps x 4 ms = 0.6 s; without yielding: 0
  });
});

describe('nino stderr (spawned)', () => {
  const fm = writeFakeFashionMnist(join(tmp(), 'fm'), 20, 10);
  const run = (args: string[], env: Record<string, string>) =>
    spawnSync(BIN, args, {
      encoding: 'utf8',
      env: { ...process.env, NINO_OFFLINE: '1', NINO_DATA_DIR: fm, NINO_LOG_LEVEL: '', ...env },
    });

  it('NINO_LOG_LEVEL is honoured, an explicit --log-level wins; JSON when stderr is not a TTY, human lines with --log-format pretty', () => {
    const quiet = run(['data', 'fetch', 'fashion-mnist'], { NINO_LOG_LEVEL: 'warn' });
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain('already present');
    const flag = run(['--log-level', 'info', 'data', 'fetch', 'fashion-mnist'], { NINO_LOG_LEVEL: 'warn' });
    expect(JSON.parse(flag.stderr.trim().split('\n').pop()!).msg).toBe(`fashion-mnist: already present in ${fm}`);
    const pretty = run(['--log-format', 'pretty', 'data', 'fetch', 'fashion-mnist'], {});
    expect(pretty.stderr).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d INFO  fashion-mnist: already present in ${fm}$`, 'm'),
    );
    const bad = run(['data', 'fetch', 'fashion-mnist'], { NINO_LOG_LEVEL: 'loud' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/value 'loud' from env 'NINO_LOG_LEVEL' is invalid/);
  });

  it('a job error with 2 workers is printed once, one line, naming the file, exit 2 (corrupt dataset .gz)', () => {
    const d = tmp();
    const bad = writeFakeFashionMnist(join(d, 'bad'), 20, 10);
    const f = join(bad, 'train-images-idx3-ubyte.gz');
    writeFileSync(f, readFileSync(f).subarray(0, 200));
    const r = spawnSync(
      BIN,
      [
        'collect',
        '--task',
        'FM-16-3k',
        '--seeds',
        '1,2',
        '--steps',
        '4',
        '--every',
        '2',
        '--workers',
        '2',
        '--data-dir',
        bad,
        '--out',
        join(d, 'out'),
        '--no-progress',
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, NINO_OFFLINE: '1' },
      },
    );
    expect(r.status).toBe(2);
    const mentions = r.stderr.split('\n').filter((l) => l.includes(f));
    expect(mentions).toEqual([
      `nino: error: ${f}: truncated or corrupt gzip data (unexpected end of file): delete it and fetch it again (nino data fetch fashion-mnist)`,
    ]);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
