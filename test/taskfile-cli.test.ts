/**
 * Task files end to end through the real CLI (bin/nino, compiled dist/): a two-layer MLP on an IDX folder
 * the test writes (class = brightest quadrant, learnable) and a byte-level GPT-2 on a folder of .txt files
 * go through collect -> train-nino -> bench with nothing but the task file; bench --target and a suite's
 * targetValue; the resolved definition in trajectories and bench results; bad task files exit 2 with one
 * line and write nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { idxUbyte } from './helpers/fake-data.ts';
import { describe, expect, it } from 'vitest';
import { readTrajectory } from '../src/trajectories/arrow.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const common = ['--backend', 'wasm', '--no-progress', '--log-level', 'warn'];
const nino = (a: string[], input?: string) => spawnSync(BIN, [...common, ...a], { encoding: 'utf8', input });

/** n 8x8 grey images; the label is the quadrant that is brightest (4 classes); `flip` of the labels are shifted. */
function quadrants(n: number, seed: number, flip = 0): { x: Uint8Array; y: Uint8Array } {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = new Uint8Array(n * 64);
  const y = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const c = Math.floor(rnd() * 4);
    y[k] = k < flip * n ? (c + 1) % 4 : c;
    for (let r = 0; r < 8; r++)
      for (let q = 0; q < 8; q++) {
        const quad = (r < 4 ? 0 : 2) + (q < 4 ? 0 : 1);
        x[k * 64 + r * 8 + q] = Math.floor(rnd() * 100) + (quad === c ? 150 : 0);
      }
  }
  return { x, y };
}

function writeIdxFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const tr = quadrants(360, 7);
  const te = quadrants(120, 99, 0.25); // a quarter of the test labels wrong: at most 75% accuracy
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxUbyte([360, 8, 8], tr.x));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxUbyte([360], tr.y));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idxUbyte([120, 8, 8], te.x)));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idxUbyte([120], te.y)));
}

const mlpTask = (dataPath: string, o: Record<string, unknown> = {}) => ({
  name: 'QUAD-MLP',
  description: 'two-layer MLP on brightest-quadrant 8x8 images',
  model: { family: 'mlp', inputs: 64, hidden: [16], classes: 4 },
  data: { format: 'idx', path: dataPath, holdout: 40 },
  optimizer: { lr: 0.01, batchSize: 32 },
  budget: 60,
  period: 20,
  evalEvery: 5,
  target: { metric: 'acc', value: 90 },
  ...o,
});

describe('task files through the CLI', () => {
  it('an MLP on a user IDX folder: collect -> train-nino -> bench, --target, definition stored', () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-tf-mlp-'));
    writeIdxFolder(join(root, 'quad'));
    const taskPath = join(root, 'quad-mlp.json');
    writeFileSync(taskPath, JSON.stringify(mlpTask('quad')));
    const chk = nino(['tasks', '--check', taskPath]);
    expect(chk.status, chk.stderr).toBe(0);
    const resolved = JSON.parse(chk.stdout);
    expect(resolved.model).toEqual({ arch: 'mlp', inFeatures: 64, hidden: [16], numClasses: 4 });
    expect(resolved.files).toEqual({ format: 'idx', path: join(root, 'quad'), holdout: 40 });
    expect(resolved.weightDecay).toBe(0); // the schema's default

    const traj = join(root, 'traj');
    const c = nino([
      'collect',
      '--task',
      taskPath,
      '--seeds',
      '1..2',
      '--steps',
      '40',
      '--every',
      '4',
      '--workers',
      '1',
      '--out',
      traj,
    ]);
    expect(c.status, c.stderr).toBe(0);
    const t = readTrajectory(join(traj, 'QUAD-MLP', 'seed-1.arrow'));
    expect(t.meta.task).toBe('QUAD-MLP');
    expect(t.meta.taskDef).toEqual(resolved);
    const acc = t.records.map((r) => r.metrics.val_acc!);
    expect(acc[acc.length - 1]).toBeGreaterThan(acc[0] + 20); // the data is learnable and the MLP learns it

    const ck = join(root, 'ck');
    const m = nino([
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
    expect(m.status, m.stderr).toBe(0);
    expect(existsSync(join(ck, 'nino.safetensors'))).toBe(true);

    // bench with the task's own target (above the 75% the labels allow): both censored; --target 60 makes Adam reach it
    const b1 = join(root, 'b1');
    const r1 = nino([
      'bench',
      '--task',
      taskPath,
      '--seeds',
      '1',
      '--nowcaster',
      join(ck, 'nino.safetensors'),
      '--budget',
      '30',
      '--workers',
      '1',
      '--out',
      b1,
    ]);
    expect(r1.status, r1.stderr).toBe(0);
    const s1 = JSON.parse(readFileSync(join(b1, 'summary.json'), 'utf8'));
    expect(s1.runs.map((r: { stepsToTarget: number | null }) => r.stepsToTarget)).toEqual([null, null]);
    for (const r of s1.runs) expect(r.taskDef).toEqual(resolved);
    const b2 = join(root, 'b2');
    const r2 = nino([
      'bench',
      '--task',
      taskPath,
      '--seeds',
      '1',
      '--nowcaster',
      'linefit',
      '--budget',
      '30',
      '--target',
      '60',
      '--workers',
      '1',
      '--out',
      b2,
    ]);
    expect(r2.status, r2.stderr).toBe(0);
    const s2 = JSON.parse(readFileSync(join(b2, 'summary.json'), 'utf8'));
    const adam = s2.runs.find((r: { method: string }) => r.method === 'adam');
    expect(adam.stepsToTarget).toBeGreaterThan(0);
    expect(adam.stepsToTarget).toBeLessThanOrEqual(30);
    expect(adam.taskDef.target).toEqual({ metric: 'acc', value: 60 });
    expect(adam.key).not.toBe(s1.runs.find((r: { method: string }) => r.method === 'adam').key);

    // a suite naming the task file (relative to the suite) with targetValue
    const suite = join(root, 'suite.json');
    writeFileSync(
      suite,
      JSON.stringify({
        name: 'mine',
        nowcasters: ['linefit'],
        tasks: [{ task: 'quad-mlp.json', seeds: [1], budget: 30, targetValue: 60 }],
      }),
    );
    const r3 = nino(['bench', '--suite', suite, '--workers', '1', '--out', join(root, 'b3')]);
    expect(r3.status, r3.stderr).toBe(0);
    const s3 = JSON.parse(readFileSync(join(root, 'b3', 'summary.json'), 'utf8'));
    expect(s3.runs.find((r: { method: string }) => r.method === 'adam').stepsToTarget).toBe(adam.stepsToTarget);
  });

  it('a byte-level GPT-2 on a folder of .txt files: collect -> train-nino -> bench', () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-tf-gpt-'));
    const txt = join(root, 'texts');
    mkdirSync(txt);
    for (let i = 0; i < 5; i++)
      writeFileSync(join(txt, `doc-${i}.txt`), `the cat sat on the mat number ${i}. `.repeat(40));
    const taskPath = join(root, 'tiny-gpt.json');
    writeFileSync(
      taskPath,
      JSON.stringify({
        name: 'TINY-GPT',
        model: { family: 'gpt2', layers: 1, width: 16, heads: 2, context: 16, vocab: 256 },
        data: { format: 'text', path: 'texts', valFraction: 0.2 },
        optimizer: { lr: 0.01, weightDecay: 0.01, batchSize: 4 },
        evalTokens: 512,
        budget: 20,
        period: 10,
        evalEvery: 5,
        target: { metric: 'ppl', value: 1.01 },
      }),
    );
    const traj = join(root, 'traj');
    const c = nino([
      'collect',
      '--task',
      taskPath,
      '--seeds',
      '1..2',
      '--steps',
      '20',
      '--every',
      '2',
      '--workers',
      '1',
      '--out',
      traj,
    ]);
    expect(c.status, c.stderr).toBe(0);
    const t = readTrajectory(join(traj, 'TINY-GPT', 'seed-2.arrow'));
    expect(t.meta.taskDef?.files).toEqual({ format: 'text', path: txt, tokenizer: 'byte', valFraction: 0.2 });
    expect(t.meta.taskDef?.contextLen).toBe(16); // default: the model's context
    const ppl = t.records.map((r) => r.metrics.val_ppl!);
    expect(ppl[ppl.length - 1]).toBeLessThan(ppl[0]);
    const ck = join(root, 'ck');
    const m = nino([
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
    expect(m.status, m.stderr).toBe(0);
    const b = join(root, 'b');
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
      String(Math.ceil(ppl[3])),
      '--workers',
      '1',
      '--out',
      b,
    ]);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(b, 'summary.json'), 'utf8'));
    expect(s.runs).toHaveLength(2);
    expect(s.runs.find((x: { method: string }) => x.method === 'adam').stepsToTarget).toBeLessThanOrEqual(20);
  });

  it('bad task files: one line naming the problem, exit 2, nothing written', () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-tf-bad-'));
    writeIdxFolder(join(root, 'quad'));
    mkdirSync(join(root, 'half'));
    writeFileSync(join(root, 'half', 'train-images-idx3-ubyte'), 'x');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...mlpTask('quad'), budget: undefined }, /missing field 'budget'/],
      [{ ...mlpTask('quad'), budget: 'ten' }, /budget: must be an integer >= 1 \(got 'ten'\)/],
      [
        { ...mlpTask('quad'), model: { family: 'resnet', depth: 18 } },
        /model\.family: unknown family 'resnet' \(known: 'convnet', 'mlp', 'gpt2', 'tfjs'\)/,
      ],
      [
        { ...mlpTask('quad'), model: { family: 'mlp', inputs: 64, hidden: [16, 0], classes: 4 } },
        /model\.hidden\[1\]: must be an integer >= 1 \(got 0\)/,
      ],
      [{ ...mlpTask('quad'), optimiser: {} }, /unknown key 'optimiser'/],
      [mlpTask('half'), /lacks train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte/],
      [
        { ...mlpTask('quad'), model: { family: 'mlp', inputs: 100, hidden: [16], classes: 4 } },
        /examples have 64 values but model\.inputs is 100/,
      ],
    ];
    for (const [task, re] of cases) {
      const p = join(root, 'bad.json');
      writeFileSync(p, JSON.stringify(task));
      for (const args of [
        ['collect', '--task', p, '--out', join(root, 'out-c')],
        ['bench', '--task', p, '--nowcaster', 'linefit', '--out', join(root, 'out-b')],
      ]) {
        const r = nino(args);
        expect(r.status, `${args[0]} ${re}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(re);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
      }
    }
    const stdin = nino(['bench', '--task', '-', '--nowcaster', 'linefit', '--out', join(root, 'out-b')], '{}');
    expect(stdin.status).toBe(2);
    expect(stdin.stderr).toMatch(/--task -: bench reads task files from paths/);
    expect(readdirSync(root).sort()).toEqual(['bad.json', 'half', 'quad']);
  });
});
