/**
 * The timings half of scripts/gpu-check.sh, for one backend per run (webgpu or wasm): median ms per
 * FM-16 AdamW step at batch 128, per LM1B-3-24 AdamW step (context 1024, batch 32, gradients accumulated
 * over micro-batches), one LM1B-3-24-size nowcast (NiNo GNN, nino_no_posw), and memory (tfjs's count of
 * bytes on the GPU, process RSS). Every read is `await data()` (webgpu cannot read synchronously in Node);
 * a phase that fails prints its error and the others still run. Prints one JSON line per phase.
 *
 *   npx tsx scripts/gpu-check.ts --backend webgpu [--phases fm16,lm1b,nowcast (run in this order)]
 *   npx tsx scripts/gpu-check.ts --backend webgpu --dawn-null     # plumbing only: Dawn's do-nothing adapter
 *   options: --fm16-steps N (10)  --lm1b-steps N (3)  --lm1b-warmup N (1)  --micro N (sequences per micro-batch; 4 webgpu, 1 wasm)
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { defaultWebgpuEnv, initBackend, probeWebgpu } from '../src/core/backend.ts';
import { Rng } from '../src/core/rng.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { NiNoGnn } from '../src/model/gnn.ts';
import type { NowcastInput } from '../src/model/types.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { getTask } from '../src/tasks/registry.ts';
import { makeModel } from '../src/tasks/runtime.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const backend = arg('backend', 'webgpu');
const PHASES = ['fm16', 'lm1b', 'nowcast'];
const phases = arg('phases', PHASES.join(',')).split(',');
const unknown = phases.filter((p) => !PHASES.includes(p));
if (unknown.length) {
  console.error(`gpu-check: unknown phase '${unknown[0]}'; choose from ${PHASES.join(', ')}`);
  process.exit(2);
}
const dawnNull = process.argv.includes('--dawn-null');

function memory(): Record<string, number | string> {
  const m = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return {
    tensors: m.numTensors,
    ...(m.numBytesInGPU !== undefined
      ? {
          gpuMiB: +(m.numBytesInGPU / 2 ** 20).toFixed(1),
          gpuAllocatedMiB: +((m.numBytesAllocatedInGPU ?? 0) / 2 ** 20).toFixed(1),
        }
      : {}),
    ...(wasm ? { wasmHeapMiB: +(wasm.HEAPU8.length / 2 ** 20).toFixed(0) } : {}),
    rssGiB: +(process.memoryUsage.rss() / 2 ** 30).toFixed(2),
  };
}

async function phase(name: string, fn: () => Promise<Record<string, unknown>>): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await fn();
    console.log(
      JSON.stringify({
        phase: name,
        backend: tf.getBackend(),
        ok: true,
        ...r,
        memory: memory(),
        wallS: +((performance.now() - t0) / 1000).toFixed(1),
      }),
    );
  } catch (e) {
    console.log(
      JSON.stringify({
        phase: name,
        backend: tf.getBackend(),
        ok: false,
        error: String((e as Error).message).split('\n')[0],
        memory: memory(),
      }),
    );
  }
}

/** AdamW on `model` over `batches` micro-batches per step; returns median ms per step (after warm-up). */
async function timeSteps(
  model: ReturnType<typeof makeModel>,
  makeBatch: (rng: Rng) => { x: tf.Tensor; y: tf.Tensor },
  o: { lr: number; weightDecay: number; micro: number; steps: number; warmup: number },
): Promise<{ medianMs: number; minMs: number; loss: number; times: number[] }> {
  const rng = new Rng(1000);
  const params = model
    .init(rng)
    .map((a, i) => tf.variable(tf.tensor(a, model.specs[i].shape), true, model.specs[i].name));
  const opt = new AdamW({ lr: o.lr, weightDecay: o.weightDecay });
  const batches = Array.from({ length: o.micro }, () => makeBatch(rng));
  const step = async (): Promise<number> => {
    let acc: tf.Tensor[] | null = null;
    let lossSum: tf.Tensor = tf.scalar(0);
    for (const b of batches) {
      const { value, grads } = tf.variableGrads(() => model.loss(params, b), params);
      const g = params.map((p) => grads[p.name]);
      const next: tf.Tensor[] = acc ? acc.map((a, i) => tf.add(a, g[i])) : g.map((t) => tf.clone(t));
      if (acc) tf.dispose(acc);
      acc = next;
      const ls = tf.add(lossSum, value);
      tf.dispose([lossSum, value, ...Object.values(grads)]);
      lossSum = ls;
    }
    const mean = acc!.map((a) => tf.div(a, batches.length));
    tf.dispose(acc!);
    opt.step(params, mean);
    tf.dispose(mean);
    const l = (await lossSum.data())[0] / batches.length; // sync point
    lossSum.dispose();
    return l;
  };
  for (let i = 0; i < o.warmup; i++) await step();
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < o.steps; i++) {
    const t0 = performance.now();
    loss = await step();
    times.push(performance.now() - t0);
  }
  tf.dispose([...params, ...batches.flatMap((b) => [b.x, b.y])]);
  opt.dispose();
  return {
    medianMs: +median(times).toFixed(1),
    minMs: +Math.min(...times).toFixed(1),
    loss: +loss.toFixed(4),
    times: times.map((t) => +t.toFixed(0)),
  };
}

async function main(): Promise<void> {
  const probe =
    backend === 'webgpu'
      ? await probeWebgpu(dawnNull ? { ...defaultWebgpuEnv, dawnOptions: ['backend=null'] } : defaultWebgpuEnv)
      : null;
  const be = await initBackend(backend, undefined, { webgpuProbe: probe ? async () => probe : undefined });
  console.log(
    JSON.stringify({
      phase: 'backend',
      backend: be.name,
      reason: be.reason,
      adapter: probe?.ok ? probe.adapter : undefined,
      dawnNull,
      node: process.version,
    }),
  );

  const run: Record<string, () => Promise<Record<string, unknown>>> = {};
  run.fm16 = async () => {
    const spec = getTask('FM-16');
    const model = makeModel(spec);
    const B = 128;
    const r = await timeSteps(
      model,
      (rng) => ({
        x: tf.tensor4d(
          Float32Array.from({ length: B * 28 * 28 }, () => rng.normal()),
          [B, 28, 28, 1],
        ),
        y: tf.tensor1d(
          Int32Array.from({ length: B }, () => rng.int(10)),
          'int32',
        ),
      }),
      { lr: spec.lr, weightDecay: spec.weightDecay, micro: 1, steps: Number(arg('fm16-steps', '10')), warmup: 3 },
    );
    return { task: 'FM-16', batch: B, ...r };
  };

  run.lm1b = async () => {
    const spec = getTask('LM1B-3-24');
    const model = makeModel(spec);
    const B = spec.batchSize; // 32
    const T = spec.contextLen!; // 1024
    const micro = Number(arg('micro', be.name === 'wasm' ? '1' : '4'));
    if (B % micro !== 0) throw new Error(`--micro ${micro} must divide the batch ${B}`);
    const V = 50257;
    const r = await timeSteps(
      model,
      (rng) => {
        // random token ids (LM1B is not on these machines; the step cost does not depend on the text)
        const ids = Int32Array.from({ length: micro * (T + 1) }, () => rng.int(V));
        const x = new Int32Array(micro * T);
        const y = new Int32Array(micro * T);
        for (let b = 0; b < micro; b++) {
          x.set(ids.subarray(b * (T + 1), b * (T + 1) + T), b * T);
          y.set(ids.subarray(b * (T + 1) + 1, (b + 1) * (T + 1)), b * T);
        }
        return { x: tf.tensor2d(x, [micro, T], 'int32'), y: tf.tensor2d(y, [micro, T], 'int32') };
      },
      {
        lr: spec.lr,
        weightDecay: spec.weightDecay,
        micro: B / micro,
        steps: Number(arg('lm1b-steps', '3')),
        warmup: Number(arg('lm1b-warmup', '1')),
      },
    );
    return {
      task: 'LM1B-3-24',
      batch: B,
      context: T,
      microBatch: micro,
      params: model.specs.reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0),
      ...r,
    };
  };

  run.nowcast = async () => {
    const graphMod = await import('../src/graph/index.ts');
    const specs = (await import('../src/tasks/models/gpt2.ts')).gpt2Specs({
      vocabSize: 50257,
      nPositions: 1024,
      nEmbd: 24,
      nLayer: 3,
    });
    const g = graphMod.buildNeuralGraph('gpt2', specs, { numHeads: 3 });
    const ck = loadCheckpoint(join(import.meta.dirname, '..', 'checkpoints', 'official', 'nino_no_posw.safetensors'));
    const ctx = 5;
    const rng = new Rng(1);
    const edgeAttr = Float32Array.from({ length: g.numEdges * g.maxFeat * ctx }, () => rng.normal());
    const pos = Float32Array.from({ length: g.numNodes * 8 }, () => rng.normal() * 0.05);
    const inp: NowcastInput = {
      edgeAttr,
      F: g.maxFeat,
      ctx,
      edgeIndex: g.edgeIndex,
      edgeType: g.edgeType,
      pos,
      posW: g.posW,
      numNodes: g.numNodes,
      k: 40,
    };
    const nc = new NiNoGnn(ck.config, ck.weights, { chunkEdges: 65536, seed: 1 });
    try {
      const t0 = performance.now();
      const delta = nc.predictDelta(inp);
      const s = (performance.now() - t0) / 1000;
      let finite = true;
      for (let i = 0; i < delta.length; i++)
        if (!Number.isFinite(delta[i])) {
          finite = false;
          break;
        }
      return {
        graph: { params: g.layout.total, nodes: g.numNodes, edges: g.numEdges },
        seconds: +s.toFixed(2),
        finite,
      };
    } finally {
      nc.dispose();
    }
  };

  for (const p of phases) await phase(p, run[p]);
}

main()
  .then(() => process.exit(0)) // dawn.node can keep the event loop alive
  .catch((e) => {
    console.log(
      JSON.stringify({ phase: 'backend', backend, ok: false, error: String((e as Error).message).split('\n')[0] }),
    );
    process.exit(1);
  });
