/**
 * `nino train-nino` end to end through the real CLI: FM-16-3k-shaped synthetic trajectories (conv graph,
 * F = 9), validation log line, final checkpoint usable through resolveNowcaster, resume (and the orphan
 * files it removes), refusing an --out that holds a run, giving up on divergence, and bad input.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend.ts';
import { makeLayout } from '../src/core/params.ts';
import { Rng } from '../src/core/rng.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { resolveNowcaster } from '../src/nowcast/resolve.ts';
import { getTask } from '../src/tasks/registry.ts';
import { makeModel } from '../src/tasks/runtime.ts';
import { readTrajectory, writeTrajectory } from '../src/trajectories/arrow.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const common = ['--backend', 'wasm', '--no-progress', '--log-level', 'info'];
const nino = (a: string[]) => spawnSync(BIN, [...common, ...a], { encoding: 'utf8' });
const model = makeModel(getTask('FM-16-3k'));
let data = '';

beforeAll(async () => {
  await initBackend('cpu');
  data = mkdtempSync(join(tmpdir(), 'nino-mtcli-'));
  const lay = makeLayout(model.specs);
  for (let seed = 1; seed <= 3; seed++) {
    const rng = new Rng(seed);
    const a = Float32Array.from({ length: lay.total }, () => 0.1 * rng.normal());
    const b = Float32Array.from({ length: lay.total }, () => 0.05 * rng.normal());
    const records = Array.from({ length: 8 }, (_, r) => ({
      step: r * 60,
      params: Float32Array.from(a, (x, i) => x + b[i] * Math.log1p(r)),
      metrics: {},
    }));
    writeTrajectory(
      join(data, `seed-${seed}.arrow`),
      lay,
      { task: 'FM-16-3k', seed, config: {}, toolVersion: 't', schemaVersion: 1 },
      records,
    );
  }
});

describe('nino train-nino', () => {
  it('trains, validates against linefit, writes a loadable checkpoint and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-mtcli-out-'));
    const args = [
      'train-nino',
      '--data',
      data,
      '--steps',
      '4',
      '--hid',
      '8',
      '--batch',
      '2',
      '--val-every',
      '2',
      '--ckpt-every',
      '2',
      '--val-windows',
      '2',
      '--out',
      out,
    ];
    const r = nino(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^trained nino \(hid 8\) for 4 steps: .*val l1 [\d.]+ \| last [\d.]+ \| linefit [\d.]+ \| beats linefit: (yes|no) .*graphs\/s/,
    );
    expect(r.stderr).toMatch(/val l1 [\d.]+ \| last [\d.]+ \| linefit [\d.]+ \| beats linefit: (yes|no)/);
    const final = join(out, 'nino.safetensors');
    expect(existsSync(final)).toBe(true);
    expect(existsSync(join(out, 'ckpt-adamw-4.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'ckpt-adamw-2.safetensors'))).toBe(false);
    const gn = await resolveNowcaster(final, { model });
    const states = new Float32Array(gn.graph.layout.total * 5).map((_, i) => 0.01 * Math.sin(i));
    expect(gn.nowcast(states, 10).every(Number.isFinite)).toBe(true);
    // resume a finished run to more steps
    const r2 = nino(['train-nino', '--out', out, '--resume', '--steps', '6']);
    expect(r2.status, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/for 6 steps/);
    expect((loadCheckpoint(join(out, 'ckpt.safetensors')).extra as { step: number }).step).toBe(6);

    // files a killed run left (an optimizer state of another step, tmp files of interrupted writes) go on resume
    const orphans = [
      'ckpt-adamw-5.safetensors',
      'ckpt-adamw-7.safetensors.4242.tmp',
      'ckpt.safetensors.4242.1.0badf00d.tmp',
      'nino.safetensors.4242.tmp',
    ];
    for (const f of orphans) writeFileSync(join(out, f), 'x');
    const r3 = nino(['train-nino', '--out', out, '--resume', '--steps', '6']);
    expect(r3.status, r3.stderr).toBe(0);
    expect(readdirSync(out).filter((f) => orphans.includes(f))).toEqual([]);
    expect(existsSync(join(out, 'ckpt-adamw-6.safetensors'))).toBe(true);

    // a fresh run into this --out is refused, unless --overwrite
    const r4 = nino([
      'train-nino',
      '--data',
      data,
      '--steps',
      '2',
      '--hid',
      '8',
      '--batch',
      '2',
      '--val-windows',
      '2',
      '--out',
      out,
    ]);
    expect(r4.status).toBe(2);
    expect(r4.stderr).toMatch(
      /--out .* already holds a train-nino run \(.*ckpt\.safetensors.*\); pass --resume to continue it or --overwrite to replace it/,
    );
    expect((loadCheckpoint(join(out, 'ckpt.safetensors')).extra as { step: number }).step).toBe(6);
    const r5 = nino([
      'train-nino',
      '--data',
      data,
      '--steps',
      '2',
      '--hid',
      '8',
      '--batch',
      '2',
      '--val-windows',
      '2',
      '--out',
      out,
      '--overwrite',
    ]);
    expect(r5.status, r5.stderr).toBe(0);
    expect((loadCheckpoint(join(out, 'ckpt.safetensors')).extra as { step: number }).step).toBe(2);
    expect(readdirSync(out).filter((f) => f.startsWith('ckpt-adamw-'))).toEqual(['ckpt-adamw-2.safetensors']);
  });

  it('SIGTERM stops a run within seconds with exit 143; --resume then finishes it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-mtcli-term-'));
    const child = spawn(
      BIN,
      [
        ...common,
        'train-nino',
        '--data',
        data,
        '--steps',
        '100000',
        '--hid',
        '8',
        '--batch',
        '1',
        '--val',
        '0',
        '--ckpt-every',
        '2',
        '--out',
        out,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (existsSync(join(out, 'ckpt.safetensors'))) {
          clearInterval(t);
          resolve();
        }
      }, 20);
      void exited.then(() => {
        clearInterval(t);
        reject(new Error(`train-nino ended early: ${stderr}`));
      });
    });
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(code, stderr).toBe(143);
    expect(stderr).toMatch(/interrupted \(SIGTERM\)/);
    const step = (loadCheckpoint(join(out, 'ckpt.safetensors')).extra as { step: number }).step;
    const r = nino(['train-nino', '--out', out, '--resume', '--steps', String(step + 2)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`for ${step + 2} steps`));
  }, 120_000);

  it('gives up with exit 1 after 20 rollbacks to the same snapshot (--lr 1000), although replayed steps succeed', () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-mtcli-div-'));
    const r = spawnSync(
      BIN,
      [
        '--backend',
        'wasm',
        '--no-progress',
        '--log-level',
        'error',
        'train-nino',
        '--data',
        data,
        '--steps',
        '200',
        '--hid',
        '8',
        '--batch',
        '1',
        '--val',
        '0',
        '--lr',
        '1000',
        '--out',
        out,
      ],
      { encoding: 'utf8', timeout: 240_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /nino: error: training diverges: 20 rollbacks to step 0 without reaching step 25 .*lower --lr \(1000\)/,
    );
  }, 300_000);

  it('rejects bad input with one-line errors', () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-mtcli-bad-'));
    const bad = join(out, 'broken.arrow');
    writeFileSync(bad, 'garbage');
    const r = nino(['train-nino', '--data', bad, '--steps', '2', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nino: error: .*broken\.arrow: not a (readable Arrow IPC file|nino trajectory)/);
    const r2 = nino(['train-nino', '--steps', '2', '--out', out]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/--data is required/);
    const r3 = nino(['train-nino', '--data', data, '--model', 'transformer', '--out', out]);
    expect(r3.stderr).toMatch(/--model must be 'nino' or 'mlp'/);
    const r4 = nino(['train-nino', '--data', data, '--val', '3', '--out', out]);
    expect(r4.stderr).toMatch(/task FM-16-3k has 3 trajectories; holding out --val 3 would leave none/);
    const r5 = spawnSync(BIN, [...common, 'train-nino', '--data', data, '--out', '/proc/nope/x'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r5.signal).toBeNull();
    expect(r5.status).toBe(2);
    expect(r5.stderr).toMatch(/output folder '\/proc\/nope\/x' is not writable \(cannot create folder/);
    const r6 = nino(['train-nino', '--data', data, '--seed', '-1', '--out', out]);
    expect(r6.status).toBe(2);
    expect(r6.stderr).toMatch(/--seed must be an integer 0\.\.4294967295 \(got '-1'\)/);
    const r7 = nino(['train-nino', '--data', data, '--resume', '--overwrite', '--out', out]);
    expect(r7.status).toBe(2);
    expect(r7.stderr).toMatch(/either --resume or --overwrite/);
  });

  it('one run under two seed labels cannot end up on both sides of the train/validation split', () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-mtcli-alias-'));
    for (const s of [1, 2, 3]) copyFileSync(join(data, `seed-${s}.arrow`), join(d, `seed-${s}.arrow`));
    const t = readTrajectory(join(data, 'seed-1.arrow'));
    writeTrajectory(join(d, 'seed-9.arrow'), t.layout, { ...t.meta, seed: 9 }, t.records);
    const r = nino([
      'train-nino',
      '--data',
      d,
      '--steps',
      '2',
      '--out',
      mkdtempSync(join(tmpdir(), 'nino-mtcli-alias-out-')),
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /seed-(1|9)\.arrow: same initial parameters as .*seed-(1|9)\.arrow .*one run under two seeds/,
    );
    writeTrajectory(join(d, 'seed-9.arrow'), t.layout, { ...t.meta, seed: 2 ** 32 + 1 }, t.records);
    const r2 = nino([
      'train-nino',
      '--data',
      d,
      '--steps',
      '2',
      '--out',
      mkdtempSync(join(tmpdir(), 'nino-mtcli-alias-out-')),
    ]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toMatch(/seed-9\.arrow: seed 4294967297 is out of range/);
  });
});
