/**
 * `nino collect` end to end, through the real CLI in child processes: a finished run, a run killed
 * with SIGKILL mid-way and rerun, two collectors racing on one trajectory, Ctrl-C on a single-job run,
 * an incomplete finished file, and bad input. Uses small Fashion-MNIST-format files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTrajectory, writeTrajectory } from '../src/trajectories/arrow.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
let dataDir = '';
const common = ['--backend', 'wasm', '--no-progress', '--log-level', 'warn'];
const args = (out: string) => [
  ...common,
  'collect',
  '--task',
  'FM-16-3k',
  '--seeds',
  '7',
  '--steps',
  '24',
  '--every',
  '4',
  '--workers',
  '1',
  '--eval-limit',
  '30',
  '--data-dir',
  dataDir,
  '--out',
  out,
];

function nino(a: string[]) {
  return spawnSync(BIN, a, { encoding: 'utf8', env: { ...process.env, NINO_OFFLINE: '1' } });
}

beforeAll(() => {
  dataDir = writeFakeFashionMnist(mkdtempSync(join(tmpdir(), 'nino-fm-')));
});

/** one uninterrupted run of args(), made once */
let refOut = '';
function reference() {
  if (!refOut) {
    refOut = mkdtempSync(join(tmpdir(), 'nino-collect-ref-'));
    const r = nino(args(refOut));
    if (r.status !== 0) throw new Error(r.stderr);
  }
  return readTrajectory(join(refOut, 'FM-16-3k', 'seed-7.arrow'));
}

/** starts `nino collect args(out)` and resolves once its partial folder holds `recs` records */
function startAndWaitForRecords(out: string, recs: number) {
  const partial = join(out, 'FM-16-3k', '.seed-7.partial');
  const child = spawn(BIN, args(out), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NINO_OFFLINE: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      const n = existsSync(partial) ? readdirSync(partial).filter((f) => f.startsWith('rec-')).length : 0;
      if (n >= recs) {
        clearInterval(t);
        resolve();
      }
    }, 10);
    void exited.then(() => {
      clearInterval(t);
      reject(new Error(`collect finished before ${recs} records were seen: ${stderr}`));
    });
  });
  return { child, ready, exited, out: () => ({ stdout, stderr }) };
}

function expectSameAsReference(path: string) {
  const ta = reference();
  const tb = readTrajectory(path);
  expect(tb.records.map((r) => r.step)).toEqual(ta.records.map((r) => r.step));
  for (let i = 0; i < ta.records.length; i++)
    expect(Buffer.from(tb.records[i].params.buffer).equals(Buffer.from(ta.records[i].params.buffer))).toBe(true);
}

describe('nino collect', () => {
  it('writes a complete trajectory, skips it on rerun, and resumes a killed run to the same result', async () => {
    const outA = mkdtempSync(join(tmpdir(), 'nino-collect-a-'));
    const a = nino(args(outA));
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    const ta = readTrajectory(join(outA, 'FM-16-3k', 'seed-7.arrow'));
    expect(ta.records.map((r) => r.step)).toEqual([0, 4, 8, 12, 16, 20, 24]);
    expect(ta.layout.total).toBe(14378);
    expect(ta.records[6].metrics.val_acc).toBeGreaterThanOrEqual(0);
    expect(ta.records[6].metrics.train_loss).toBeGreaterThan(0);
    expect(ta.meta.config.steps).toBe(24);

    const again = nino(args(outA));
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/1 already complete/);

    // interrupted run: SIGKILL once a few records exist, then rerun
    const outB = mkdtempSync(join(tmpdir(), 'nino-collect-b-'));
    const partial = join(outB, 'FM-16-3k', '.seed-7.partial');
    const child = spawn(BIN, args(outB), { stdio: 'ignore', env: { ...process.env, NINO_OFFLINE: '1' } });
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        const recs = existsSync(partial) ? readdirSync(partial).filter((f) => f.startsWith('rec-')) : [];
        if (recs.length >= 3) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(t);
        reject(new Error('collect finished before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(join(outB, 'FM-16-3k', 'seed-7.arrow'))).toBe(false);
    const b = nino(args(outB));
    expect(b.status).toBe(0);
    const tb = readTrajectory(join(outB, 'FM-16-3k', 'seed-7.arrow'));
    expect(tb.records.map((r) => r.step)).toEqual(ta.records.map((r) => r.step));
    for (let i = 0; i < ta.records.length; i++)
      expect(Array.from(tb.records[i].params)).toEqual(Array.from(ta.records[i].params));
    expect(existsSync(partial)).toBe(false);
  });

  it('two collectors on one --out and seed: the second waits for the first, then both leave the full trajectory', async () => {
    reference();
    const out = mkdtempSync(join(tmpdir(), 'nino-collect-race-'));
    const a = startAndWaitForRecords(out, 2);
    await a.ready;
    const b = spawn(BIN, args(out), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NINO_OFFLINE: '1' } });
    let bOut = '';
    b.stdout.on('data', (d) => (bOut += d));
    const [codeA, codeB] = await Promise.all([a.exited, new Promise<number | null>((r) => b.on('exit', r))]);
    expect(codeA, a.out().stderr).toBe(0);
    expect(codeB).toBe(0);
    expect(bOut).toMatch(/collected 0 trajectories \(1 already complete\)/);
    expectSameAsReference(join(out, 'FM-16-3k', 'seed-7.arrow'));
    expect(readdirSync(join(out, 'FM-16-3k')).sort()).toEqual(['seed-7.arrow']);
  });

  it('Ctrl-C on a single-job run stops within seconds with exit 130, and a rerun resumes to the same file', async () => {
    reference();
    const out = mkdtempSync(join(tmpdir(), 'nino-collect-int-'));
    const a = startAndWaitForRecords(out, 2);
    await a.ready;
    const t0 = Date.now();
    a.child.kill('SIGINT');
    const code = await a.exited;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(code, a.out().stderr).toBe(130);
    expect(a.out().stderr).toMatch(/interrupted \(SIGINT\).*rerun/);
    expect(existsSync(join(out, 'FM-16-3k', 'seed-7.arrow'))).toBe(false);
    const again = nino(args(out));
    expect(again.status, again.stderr).toBe(0);
    expectSameAsReference(join(out, 'FM-16-3k', 'seed-7.arrow'));
  });

  it('a finished file with fewer rows than --steps/--every asks for is reported, not skipped', () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-collect-short-'));
    const t = reference();
    writeTrajectory(join(out, 'FM-16-3k', 'seed-7.arrow'), t.layout, t.meta, t.records.slice(0, 2));
    const r = nino(args(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /seed-7\.arrow is incomplete: it has 2 rows \(steps 0,4\), a trajectory of --steps 24 --every 4 has 7/,
    );
  });

  it('an impossible --out fails at once with a clear error (no endless mkdir)', () => {
    const r = spawnSync(BIN, [...common, 'collect', '--task', 'FM-16-3k', '--seeds', '1', '--out', '/proc/nope/x'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/output folder '\/proc\/nope\/x' is not writable \(cannot create folder/);
  });

  it('reports a corrupt existing file instead of overwriting it', () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-collect-c-'));
    const p = join(out, 'FM-16-3k');
    spawnSync('mkdir', ['-p', p]);
    writeFileSync(join(p, 'seed-7.arrow'), 'not arrow');
    const r = nino(args(out));
    expect(r.status).toBe(2); // an input error, as in train-nino
    expect(r.stderr).toMatch(/seed-7\.arrow.*(corrupt|truncated)/);
  });

  it('fails with one line on bad input', () => {
    const bad = [
      [[...common, 'collect', '--task', 'NOPE'], /unknown task 'NOPE'; known tasks: FM-16/],
      [[...common, 'collect', '--task', 'FM-16-3k', '--seeds', '5..2'], /bad seed range/],
      [
        [...common, 'collect', '--task', 'FM-16-3k', '--seeds', '4294967297'],
        /seed 4294967297 is out of range: seeds are integers 0\.\.4294967295/,
      ],
      [[...common, 'collect', '--task', 'FM-16-3k', '--seeds', '-1'], /seed -1 is out of range/],
      [[...common, 'collect', '--task', 'FM-16-3k', '--seeds', '1,01'], /seed 1 is given twice/],
      [[...common, 'collect', '--task', 'FM-16-3k', '--seeds', '1..3,2'], /seed 2 is given twice/],
      [[...common, 'collect', '--task', 'FM-16-3k', '--steps', '-3'], /--steps must be a positive integer/],
      [
        [...common, 'collect', '--task', 'FM-16-3k', '--seeds', '1', '--data-dir', '/nonexistent/x'],
        /--data-dir .* does not exist/,
      ],
    ] as const;
    for (const [a, re] of bad) {
      const r = nino([...a]);
      expect(r.status, r.stderr).not.toBe(0);
      if (a.includes('--seeds')) expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('nino: error')).length,
      ).toBe(1);
    }
  });
});
