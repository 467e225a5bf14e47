/**
 * `nino train-nino` end to end through the real CLI: FM-16-3k-shaped synthetic trajectories (conv graph,
 * F = 9), validation log line, final checkpoint usable through resolveNowcaster, resume, and bad input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
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
import { writeTrajectory } from '../src/trajectories/arrow.ts';

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
    const records = Array.from({ length: 8 }, (_, r) => ({ step: r * 60, params: Float32Array.from(a, (x, i) => x + b[i] * Math.log1p(r)), metrics: {} }));
    writeTrajectory(join(data, `seed-${seed}.arrow`), lay, { task: 'FM-16-3k', seed, config: {}, toolVersion: 't', schemaVersion: 1 }, records);
  }
});

describe('nino train-nino', () => {
  it('trains, validates against linefit, writes a loadable checkpoint and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'nino-mtcli-out-'));
    const args = ['train-nino', '--data', data, '--steps', '4', '--hid', '8', '--batch', '2', '--val-every', '2', '--ckpt-every', '2', '--val-windows', '2', '--out', out];
    const r = nino(args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^trained nino \(hid 8\) for 4 steps: .*val l1 [\d.]+ \| last [\d.]+ \| linefit [\d.]+ \| beats linefit: (yes|no) .*graphs\/s/);
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
  });

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
  });
});
