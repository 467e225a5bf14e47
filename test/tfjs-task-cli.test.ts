/**
 * A task file whose model is a tfjs model.json (family 'tfjs'), end to end through the real CLI
 * (bin/nino): collect writes a trajectory with the resolved model in its task definition, train-nino
 * rebuilds the model's neural graph from that trajectory alone, and bench runs Adam and NiNo (the
 * trained checkpoint, whose graph is the tfjs model's) on it; bad model files exit 2 with one line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { readTrajectory } from '../src/trajectories/arrow.ts';
import { saveLayersModel } from './helpers/tfjs-models.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const common = ['--backend', 'wasm', '--no-progress', '--log-level', 'warn'];
const nino = (a: string[]) => spawnSync(BIN, [...common, ...a], { encoding: 'utf8' });
const root = mkdtempSync(join(tmpdir(), 'nino-tfjs-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 4 features, 3 classes: the label is the largest of the first three features (learnable) */
function writeCsv(path: string, n: number): void {
  let s = 7;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const rows = ['f0,f1,f2,f3,label'];
  for (let i = 0; i < n; i++) {
    const f = [rnd(), rnd(), rnd(), rnd()];
    rows.push([...f.map((v) => v.toFixed(4)), f.slice(0, 3).indexOf(Math.max(...f.slice(0, 3)))].join(','));
  }
  writeFileSync(path, rows.join('\n') + '\n');
}

const task = (modelPath: string, o: Record<string, unknown> = {}) => ({
  name: 'CSV-TFJS',
  description: 'a saved tfjs Dense net on a CSV file',
  model: { family: 'tfjs', path: modelPath, init: 'seed' },
  data: { format: 'csv', path: 'rows.csv' },
  optimizer: { lr: 0.02, batchSize: 16 },
  budget: 40,
  period: 10,
  evalEvery: 5,
  target: { metric: 'acc', value: 99 },
  ...o,
});

describe('a tfjs model.json task through the CLI', () => {
  it('collect -> train-nino -> bench', async () => {
    writeCsv(join(root, 'rows.csv'), 300);
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }));
    m.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    await saveLayersModel(m, join(root, 'net'));
    const taskPath = join(root, 'csv-tfjs.json');
    writeFileSync(taskPath, JSON.stringify(task('net')));

    const chk = nino(['tasks', '--check', taskPath]);
    expect(chk.status, chk.stderr).toBe(0);
    const resolved = JSON.parse(chk.stdout);
    expect(resolved.model).toMatchObject({
      arch: 'tfjs',
      path: join(root, 'net', 'model.json'),
      init: 'seed',
      inputShape: [4],
      numClasses: 3,
    });

    const traj = join(root, 'traj');
    const c = nino([
      'collect',
      '--task',
      taskPath,
      '--seeds',
      '1..2',
      '--steps',
      '30',
      '--every',
      '3',
      '--workers',
      '1',
      '--out',
      traj,
    ]);
    expect(c.status, c.stderr).toBe(0);
    const t1 = readTrajectory(join(traj, 'CSV-TFJS', 'seed-1.arrow'));
    const t2 = readTrajectory(join(traj, 'CSV-TFJS', 'seed-2.arrow'));
    expect(t1.meta.taskDef).toEqual(resolved);
    expect(t1.layout.entries.map((e) => [e.name, e.shape])).toEqual([
      ['dense_Dense1/kernel', [8, 4]],
      ['dense_Dense1/bias', [8]],
      ['dense_Dense2/kernel', [3, 8]],
      ['dense_Dense2/bias', [3]],
    ]);
    expect(t1.records.length).toBeGreaterThan(5);
    // init 'seed': the two seeds start from different weights
    expect(Array.from(t1.records[0].params)).not.toEqual(Array.from(t2.records[0].params));
    const acc = t1.records.map((r) => r.metrics.val_acc!);
    expect(acc[acc.length - 1]).toBeGreaterThan(acc[0]);

    // train-nino from the trajectories alone (the task file is gone: the graph comes from the stored definition)
    rmSync(taskPath);
    const ck = join(root, 'ck');
    const tn = nino([
      'train-nino',
      '--data',
      traj,
      '--steps',
      '2',
      '--hid',
      '8',
      '--max-horizon',
      '2',
      '--stride',
      '1',
      '--batch',
      '2',
      '--val-windows',
      '2',
      '--val-every',
      '2',
      '--out',
      ck,
    ]);
    expect(tn.status, tn.stderr).toBe(0);
    expect(existsSync(join(ck, 'nino.safetensors'))).toBe(true);

    writeFileSync(taskPath, JSON.stringify(task('net')));
    const b = join(root, 'bench');
    const r = nino([
      'bench',
      '--task',
      taskPath,
      '--seeds',
      '1',
      '--nowcaster',
      join(ck, 'nino.safetensors'),
      '--budget',
      '20',
      '--target',
      '50',
      '--workers',
      '1',
      '--out',
      b,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(b, 'summary.json'), 'utf8'));
    expect(s.runs.map((x: { method: string }) => x.method).sort()).toEqual(['adam', 'nino']);
    for (const x of s.runs) expect(x.taskDef.model.sha256).toBe(resolved.model.sha256);

    // a changed model is another task: its hash and so the bench run key change
    m.setWeights(m.getWeights().map((w) => tf.add(w, 0.01)));
    await saveLayersModel(m, join(root, 'net'));
    const chk2 = nino(['tasks', '--check', taskPath]);
    expect(JSON.parse(chk2.stdout).model.sha256).not.toBe(resolved.model.sha256);
  });

  it('bad model files exit 2 with one line, before writing anything', async () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 8 }));
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.dense({ units: 3 }));
    await saveLayersModel(m, join(root, 'bn'));
    writeFileSync(join(root, 'broken.json'), '{');
    const cases: [string, RegExp][] = [
      ['missing/model.json', /model\.path: model file '.*missing\/model\.json' does not exist/],
      ['broken.json', /model\.path: '.*broken\.json' is not valid JSON/],
      [
        'bn/model.json',
        /\(BatchNormalization\): not supported in a task's model .*; supported layers: InputLayer, Dense/,
      ],
    ];
    for (const [p, re] of cases) {
      const tp = join(root, 'bad.json');
      writeFileSync(tp, JSON.stringify(task(p)));
      for (const args of [
        ['collect', '--task', tp, '--out', join(root, 'out-c')],
        ['bench', '--task', tp, '--nowcaster', 'linefit', '--out', join(root, 'out-b')],
      ]) {
        const r = nino(args);
        expect(r.status, `${args[0]} ${re}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(re);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    }
    expect(readdirSync(root).filter((n) => n.startsWith('out-'))).toEqual([]);
  });
});
