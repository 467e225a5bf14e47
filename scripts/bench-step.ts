/**
 * Benchmark of one Adam training step of the FM-16 conv net (forward + backward + AdamW) at batch 128 on
 * random 28x28x1 data, on the active tfjs backend, plus forward-only evaluation speed at batch 1000.
 * Prints: median ms/step after warm-up (wall, and CPU time of this process), a per-kernel breakdown (tf.profile of one step), the eval ms per
 * 1000 images, and checks that tf.memory().numTensors does not grow across steps.
 *
 *   npx tsx scripts/bench-step.ts                      # backend from NINO_BACKEND, default auto (-> wasm here)
 *   npx tsx scripts/bench-step.ts --backend cpu --steps 2 --warmup 1
 *   options: --backend auto|wasm|cpu|tensorflow  --steps N (20)  --warmup N (5)  --batch N (128)
 *            --eval-batch N (1000)  --eval-reps N (5)  --no-profile  --no-gnn
 * Also times the GNN message-passing primitives (gatherRows / segmentSum from src/core/kernels/ops.ts,
 * 200 nodes, 15k edges, hidden 128, forward + gradient), unless --no-gnn.
 */
import * as tf from '@tensorflow/tfjs';
import { cpus, loadavg } from 'node:os';
import { initBackend } from '../src/core/backend.ts';
import { gatherRows, segmentSum } from '../src/core/kernels/ops.ts';
import { Rng } from '../src/core/rng.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { makeConvNet } from '../src/tasks/models/convnet.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];

async function main(): Promise<void> {
  const { name, reason } = await initBackend(arg('backend', process.env.NINO_BACKEND ?? 'auto'));
  const steps = Number(arg('steps', '20'));
  const warmup = Number(arg('warmup', '5'));
  const batch = Number(arg('batch', '128'));
  const evalBatch = Number(arg('eval-batch', '1000'));
  const evalReps = Number(arg('eval-reps', '5'));
  const doProfile = !process.argv.includes('--no-profile');
  console.log(`backend: ${name} (${reason}); FM-16, batch ${batch}`);
  const load = () => loadavg()[0].toFixed(2);
  console.log(
    `load average (1 min) at start: ${load()} on ${cpus().length} cores (other processes skew timings; compare min and median)`,
  );

  const model = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
  const rng = new Rng(1000);
  const params = model
    .init(rng)
    .map((a, i) => tf.variable(tf.tensor(a, model.specs[i].shape), true, model.specs[i].name));
  const opt = new AdamW({ lr: 0.006, weightDecay: 0 });

  const xData = new Float32Array(batch * 28 * 28);
  for (let i = 0; i < xData.length; i++) xData[i] = rng.normal();
  const yData = new Int32Array(batch);
  for (let i = 0; i < batch; i++) yData[i] = rng.int(10);
  const x = tf.tensor4d(xData, [batch, 28, 28, 1]);
  const y = tf.tensor1d(yData, 'int32');

  const step = (): number => {
    const { value, grads } = tf.variableGrads(() => model.loss(params, { x, y }), params);
    opt.step(
      params,
      params.map((p) => grads[p.name]),
    );
    const l = value.dataSync()[0]; // sync point
    value.dispose();
    tf.dispose(grads);
    return l;
  };

  /** wasm heap size in MB (it never shrinks; growth across steps would mean a leak inside kernels) */
  const heapMB = (): string => {
    const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
    return wasm ? `${(wasm.HEAPU8.length / 2 ** 20).toFixed(0)} MB` : 'n/a';
  };
  for (let i = 0; i < warmup; i++) step();
  const n0 = tf.memory().numTensors;
  const h0 = heapMB();
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let loss = NaN;
  for (let i = 0; i < steps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    loss = step();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
  const n1 = tf.memory().numTensors;
  const sorted = [...times].sort((p, q) => p - q);
  console.log(
    `step: median ${median(times).toFixed(1)} ms, min ${sorted[0].toFixed(1)} ms, ` +
      `p25 ${sorted[Math.floor(sorted.length / 4)].toFixed(1)} ms over ${steps} steps (after ${warmup} warm-up); ` +
      `last loss ${loss.toFixed(4)}; load average now ${load()}`,
  );
  console.log(
    `step CPU time of this process: median ${median(cpuTimes).toFixed(1)} ms (less sensitive to other processes ` +
      `than wall time when the machine is shared; includes node's GC threads)`,
  );
  console.log(
    `numTensors before/after timed steps: ${n0} / ${n1}${n1 > n0 ? '  <-- LEAK' : ' (no growth)'}; wasm heap ${h0} / ${heapMB()}`,
  );

  if (doProfile) {
    const prof = await tf.profile(() => {
      step();
    });
    const byKernel = new Map<string, { ms: number; n: number }>();
    for (const k of prof.kernels) {
      const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
      e.ms += t;
      e.n += 1;
      byKernel.set(k.name, e);
    }
    const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const total = rows.reduce((s, [, e]) => s + e.ms, 0);
    console.log(`per-kernel breakdown of one step (tf.profile; sum of kernel times ${total.toFixed(1)} ms):`);
    for (const [k, e] of rows) console.log(`  ${k.padEnd(24)} ${e.ms.toFixed(2).padStart(8)} ms  x${e.n}`);
  }

  // forward-only evaluation at a large batch
  const ex = tf.randomNormal([evalBatch, 28, 28, 1]);
  const evalOnce = () => {
    const pred = tf.tidy(() => tf.argMax(model.forward(params, ex), 1));
    pred.dataSync();
    pred.dispose();
  };
  evalOnce();
  const et: number[] = [];
  const ec: number[] = [];
  for (let i = 0; i < evalReps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    evalOnce();
    et.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    ec.push((c.user + c.system) / 1000);
  }
  const perK = (median(et) * 1000) / evalBatch;
  console.log(
    `eval forward (batch ${evalBatch}): median ${median(et).toFixed(1)} ms = ${perK.toFixed(1)} ms / 1000 images ` +
      `(10k test set ~ ${((perK * 10000) / 1000).toFixed(0)} ms); CPU time ${((median(ec) * 1000) / evalBatch).toFixed(1)} ms / 1000 images`,
  );
  ex.dispose();

  if (!process.argv.includes('--no-gnn')) {
    const N = 200;
    const E = 15000;
    const H = 128;
    const g = new Rng(5);
    const hx = tf.tensor2d(
      Float32Array.from({ length: N * H }, () => g.normal()),
      [N, H],
    );
    const src = tf.tensor1d(
      Int32Array.from({ length: E }, () => g.int(N)),
      'int32',
    );
    const dst = tf.tensor1d(
      Int32Array.from({ length: E }, () => g.int(N)),
      'int32',
    );
    const w = tf.tensor2d(
      Float32Array.from({ length: H * H }, () => g.normal() / Math.sqrt(H)),
      [H, H],
    );
    const timeIt = (f: () => tf.Tensor[]) => {
      tf.dispose(f());
      const ts: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const r = f();
        r.forEach((t) => t.dataSync());
        ts.push(performance.now() - t0);
        tf.dispose(r);
      }
      return median(ts);
    };
    const plain = timeIt(() => tf.grads((a: tf.Tensor) => segmentSum(gatherRows(a, src), dst, N).square().sum())([hx]));
    const withMm = timeIt(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        segmentSum(tf.relu(tf.matMul(gatherRows(a, src), b)), dst, N)
          .square()
          .sum(),
      )([hx, w]),
    );
    console.log(
      `GNN primitives (N ${N}, E ${E}, H ${H}), forward+grad: gather+segment-sum ${plain.toFixed(1)} ms; ` +
        `with a [E,H]x[H,H] matMul + relu per edge ${withMm.toFixed(1)} ms`,
    );
    tf.dispose([hx, src, dst, w]);
  }
  x.dispose();
  y.dispose();
  opt.dispose();
  tf.dispose(params);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
