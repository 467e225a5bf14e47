/**
 * The examples/ scripts run end to end on a short budget (small Fashion-MNIST-format data written by
 * the test, wasm backend, batch 16): model.fit with NiNoOptimizer, and the custom minimize loop. Each must finish,
 * nowcast at the scheduled steps and print a test accuracy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'nino-examples-'));
const dataDir = writeFakeFashionMnist(join(tmp, 'fm'), 400, 100);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runExample(file: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'examples', file), ...args], {
    encoding: 'utf8',
    cwd: root,
    env: { ...process.env, NINO_EXAMPLE_STEPS: '', NINO_BACKEND: 'wasm' },
    timeout: 240_000,
  });
}

describe('examples', () => {
  it('fashion-mnist-fit.ts: model.fit with NiNoOptimizer (tutorial conv net with Flatten)', () => {
    const r = runExample('fashion-mnist-fit.ts', [
      '--steps',
      '12',
      '--period',
      '5',
      '--data-dir',
      dataDir,
      '--backend',
      'wasm',
      '--batch',
      '16',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/steps 12, nowcasts @4 k=40 @9 k=1/);
    expect(r.stdout).toMatch(/test accuracy \(100 images\): \d+\.\d\d%/);
  });

  it('custom-loop-minimize.ts: optimizer.minimize loop', () => {
    const r = runExample('custom-loop-minimize.ts', [
      '--steps',
      '10',
      '--period',
      '5',
      '--data-dir',
      dataDir,
      '--backend',
      'wasm',
      '--batch',
      '16',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step 5: nowcast k=40, test accuracy/);
    expect(r.stdout).toMatch(/step 10: nowcast k=1, test accuracy/);
  });
});
