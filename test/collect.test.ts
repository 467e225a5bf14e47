/**
 * `nino collect` end to end, through the real CLI in child processes: a finished run, a run killed
 * with SIGKILL mid-way and rerun, and bad input. Uses small Fashion-MNIST-format files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readTrajectory } from '../src/trajectories/arrow.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
let dataDir = '';
const common = ['--backend', 'wasm', '--no-progress', '--log-level', 'warn'];
const args = (out: string) => [...common, 'collect', '--task', 'FM-16-3k', '--seeds', '7', '--steps', '24', '--every', '4', '--workers', '1', '--eval-limit', '30', '--data-dir', dataDir, '--out', out];

function nino(a: string[]) {
  return spawnSync(BIN, a, { encoding: 'utf8', env: { ...process.env, NINO_OFFLINE: '1' } });
}

beforeAll(() => {
  dataDir = writeFakeFashionMnist(mkdtempSync(join(tmpdir(), 'nino-fm-')));
});

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
    for (let i = 0; i < ta.records.length; i++) expect(Array.from(tb.records[i].params)).toEqual(Array.from(ta.records[i].params));
    expect(existsSync(partial)).toBe(false);
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
      [[...common, 'collect', '--task', 'FM-16-3k', '--steps', '-3'], /--steps must be a positive integer/],
      [[...common, 'collect', '--task', 'FM-16-3k', '--seeds', '1', '--data-dir', '/nonexistent/x'], /--data-dir .* does not exist/],
    ] as const;
    for (const [a, re] of bad) {
      const r = nino([...a]);
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stderr).toMatch(re);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('nino: error')).length).toBe(1);
    }
  });
});
