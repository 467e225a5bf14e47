/** `nino nowcast` through the real CLI, on the golden FM-16 states (case A). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/core/errors.ts';
import { makeLayout } from '../src/core/params.ts';
import { readSafetensors, writeSafetensors, type StTensor } from '../src/core/safetensors.ts';
import { nowcastStates } from '../src/nowcast/offline.ts';
import { writeTrajectory } from '../src/trajectories/arrow.ts';
import { refJson, refSt } from './helpers/reference.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const meta = refJson<{ model_dict: { name: string; shape: number[]; offset: number; numel: number }[] }>(
  'case_a_fm16/meta.json',
);
const states = refSt('case_a_fm16/inputs.safetensors').tensors.states.data as Float32Array; // [n,5]
const n = states.length / 5;

function writeStates(dir: string): string[] {
  return [0, 1, 2, 3, 4].map((t) => {
    const tensors: Record<string, StTensor> = {};
    for (const e of meta.model_dict) {
      const d = new Float32Array(e.numel);
      for (let i = 0; i < e.numel; i++) d[i] = states[(e.offset + i) * 5 + t];
      tensors[e.name] = { dtype: 'F32', shape: e.shape, data: d };
    }
    const p = join(dir, `state-${t}.safetensors`);
    writeFileSync(p, writeSafetensors(tensors));
    return p;
  });
}

function flatOut(path: string): Float32Array {
  const st = readSafetensors(readFileSync(path));
  const out = new Float32Array(n);
  for (const e of meta.model_dict) out.set(st.tensors[e.name].data as Float32Array, e.offset);
  return out;
}

describe('nino nowcast', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nino-nowcast-'));
  const files = writeStates(dir);

  it('linefit extrapolates each parameter along its least-squares line', () => {
    const out = join(dir, 'lf.safetensors');
    const r = spawnSync(
      BIN,
      [
        '--backend',
        'cpu',
        '--log-level',
        'warn',
        'nowcast',
        '--states',
        ...files,
        '--nowcaster',
        'linefit',
        '-k',
        '3',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const pred = flatOut(out);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const y = [0, 1, 2, 3, 4].map((t) => states[i * 5 + t]);
      const ybar = y.reduce((a, b) => a + b) / 5;
      const slope = y.reduce((a, v, t) => a + (t - 2) * (v - ybar), 0) / 10;
      worst = Math.max(worst, Math.abs(pred[i] - (ybar + slope * (4 + 3 - 2))));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('the official NiNo checkpoint gives a finite prediction that moves the parameters', () => {
    const out = join(dir, 'nino.safetensors');
    const r = spawnSync(
      BIN,
      [
        '--backend',
        'wasm',
        'nowcast',
        '--states',
        ...files,
        '--nowcaster',
        'official:nino_no_posw',
        '-k',
        '10',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/14378 parameters predicted 10 intervals ahead/);
    const pred = flatOut(out);
    expect(pred.every(Number.isFinite)).toBe(true);
    let moved = 0;
    for (let i = 0; i < n; i++) moved = Math.max(moved, Math.abs(pred[i] - states[i * 5 + 4]));
    expect(moved).toBeGreaterThan(1e-4);
  });

  it('rejects an unknown --arch, a -k beyond the checkpoint horizons, and reversed or repeated --rows', () => {
    const run = (a: string[]) =>
      spawnSync(
        BIN,
        ['--backend', 'cpu', '--log-level', 'warn', 'nowcast', ...a, '--out', join(dir, 'bad.safetensors')],
        { encoding: 'utf8' },
      );
    const arch = run(['--states', ...files, '--nowcaster', 'linefit', '-k', '1', '--arch', 'resnet']);
    expect(arch.status).toBe(2);
    expect(arch.stderr).toMatch(/unknown --arch 'resnet'; known: mlp, cnn, conv, gpt2, llama/);
    const k = run(['--states', ...files, '--nowcaster', 'official:nino_mlp', '-k', '41']);
    expect(k.status, k.stderr).toBe(2);
    expect(k.stderr).toMatch(/-k 41 is out of range: nowcaster 'official:nino_mlp' predicts 1\.\.40 intervals ahead/);
    const lay = makeLayout(meta.model_dict.map((e) => ({ name: e.name, shape: e.shape })));
    const traj = join(dir, 'traj.arrow');
    const recs = [0, 1, 2, 3, 4, 4].map((t, r) => ({
      step: r * 10,
      metrics: {},
      params: Float32Array.from({ length: n }, (_, i) => states[i * 5 + t]),
    }));
    writeTrajectory(traj, lay, { task: 'x', seed: 1, config: {}, toolVersion: 't', schemaVersion: 1 }, recs);
    for (const [rows, re] of [
      ['4,3,2,1,0', /rows must be increasing \(oldest first\) and distinct; 3 comes after 4/],
      ['0,1,1,2,3', /rows must be increasing .*; 1 comes after 1/],
      ['0,1,,2,3', /bad --rows '0,1,,2,3'/],
    ] as const) {
      const r = run(['--trajectory', traj, '--rows', rows, '--nowcaster', 'linefit', '-k', '1']);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    expect(existsSync(join(dir, 'bad.safetensors'))).toBe(false);
    const ok = run(['--trajectory', traj, '--rows', '0,1,2,3,4', '--nowcaster', 'linefit', '-k', '1']);
    expect(ok.status, ok.stderr).toBe(0);
    rmSync(join(dir, 'bad.safetensors'));
  });

  it('rejects states from different models', () => {
    const other = join(dir, 'other.safetensors');
    writeFileSync(other, writeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array(2) } }));
    const r = spawnSync(
      BIN,
      [
        '--backend',
        'cpu',
        'nowcast',
        '--states',
        ...files.slice(0, 4),
        other,
        '-k',
        '1',
        '--out',
        join(dir, 'x.safetensors'),
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/other\.safetensors: parameter names\/shapes differ/);
  });

  it('the wrong number of states is a usage error (exit 2) naming both counts', () => {
    const r = spawnSync(
      BIN,
      [
        '--backend',
        'cpu',
        'nowcast',
        '--states',
        ...files.slice(0, 4),
        '--nowcaster',
        'linefit',
        '-k',
        '1',
        '--out',
        join(dir, 'y.safetensors'),
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/needs 5 states, got 4/);
    expect(existsSync(join(dir, 'y.safetensors'))).toBe(false);
  });

  it('library: a transformer graph without its head count throws InputError before predicting', () => {
    const specs = [{ name: 'transformer.h.0.attn.c_attn.weight', shape: [4, 12] }];
    const st = Array.from({ length: 5 }, () => new Float32Array(48));
    expect(() => nowcastStates({ specs, states: st, nowcaster: 'linefit', k: 1 })).toThrow(InputError);
    expect(() => nowcastStates({ specs, states: st, nowcaster: 'linefit', k: 1 })).toThrow(
      /gpt2 graph needs its attention head count/,
    );
  });
});
