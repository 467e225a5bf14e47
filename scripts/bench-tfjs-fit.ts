/**
 * NiNo around a plain tfjs model on real training: the FM-16 conv net written as a tf.sequential
 * (examples/models.ts), trained on the real Fashion-MNIST with `optimizer.minimize` (or `model.fit`,
 * --fit) and `tf.train.adam`, with and without NiNoOptimizer, through the public API (src/index.ts).
 * The CI protocol of `nino bench --suite ci`: 3,000-step budget, NiNo period 300, target 85% test
 * accuracy on the first 2,000 test images, evaluated every 50 steps, seeds 1000 and 2000. Each seed
 * uses nino bench's initial weights (written into the tfjs model through modelGraph().write, i.e.
 * converted from PyTorch layouts) and batch order for every method, so speedups are paired.
 * Prints one line per run and steps to target per method with the paired speedup vs Adam.
 *
 *   npx tsx scripts/bench-tfjs-fit.ts                                  # full protocol (~1 h on 2 cores)
 *   npx tsx scripts/bench-tfjs-fit.ts --budget 60 --period 30 --eval-every 20 --seeds 1 --methods adam,project
 *   options: --budget N (3000) --period N (300) --eval-every N (50) --eval-limit N (2000) --target X (85)
 *            --seeds a,b (1000,2000) --methods adam,project,official:nino_no_posw --fit --backend wasm|cpu
 *            --curve (print every evaluation)  --model fm16|flatten (flatten: the tutorial conv -> pool -> conv -> pool -> Flatten -> Dense net of
 *            examples/models.ts, PyTorch-default init drawn from the seed, accuracy from model.predict)
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, modelGraph, NiNoOptimizer } from '../src/index.ts';
import { pairedSpeedup } from '../src/bench/stats.ts';
import { getTask } from '../src/tasks/registry.ts';
import { loadTaskRuntime } from '../src/tasks/runtime.ts';
import { Rng } from '../src/core/rng.ts';
import { loadDataset } from '../src/data/index.ts';
import { fm16Sequential, tutorialConvNet } from '../examples/models.ts';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

interface RunResult {
  method: string;
  seed: number;
  steps: number | null;
  final: number;
  seconds: number;
  nowcasts: number;
}

async function main(): Promise<void> {
  const backend = await initBackend(arg('backend', process.env.NINO_BACKEND ?? 'wasm'));
  const budget = Number(arg('budget', '3000'));
  const period = Number(arg('period', '300'));
  const evalEvery = Number(arg('eval-every', '50'));
  const evalLimit = Number(arg('eval-limit', '2000'));
  const target = Number(arg('target', '85'));
  const seeds = arg('seeds', '1000,2000').split(',').map(Number);
  const methods = arg('methods', 'adam,project,official:nino_no_posw').split(',');
  const useFit = process.argv.includes('--fit');
  const showCurve = process.argv.includes('--curve');
  const modelKind = arg('model', 'fm16');
  if (modelKind !== 'fm16' && modelKind !== 'flatten')
    throw new Error(`--model must be fm16 or flatten, got '${modelKind}'`);
  const spec = getTask('FM-16-3k');
  const rt = await loadTaskRuntime(spec, { evalLimit });
  const ds = await loadDataset('fashion-mnist');
  if (ds.kind !== 'vision') throw new Error('expected an image dataset');
  const nt = Math.min(evalLimit, ds.split.test.count);
  const xt = tf.tensor4d(ds.split.test.x.subarray(0, nt * 784), [nt, 28, 28, 1]);
  const yt = tf.tensor1d(ds.split.test.y.subarray(0, nt), 'int32');
  console.log(
    `backend ${backend.name}; ${modelKind === 'fm16' ? 'FM-16' : 'tutorial conv net (Flatten)'} tf.sequential on Fashion-MNIST, ${useFit ? 'model.fit' : 'optimizer.minimize'}, tf.train.adam(${spec.lr}), batch ${spec.batchSize}`,
  );
  console.log(
    `budget ${budget}, period ${period}, eval every ${evalEvery} on ${evalLimit} test images, target ${target}%, seeds ${seeds.join(',')}`,
  );

  const results: RunResult[] = [];
  for (const seed of seeds) {
    for (const method of methods) {
      const model = modelKind === 'fm16' ? fm16Sequential() : tutorialConvNet([28, 28, 1], 10, false);
      const mg = modelGraph(model);
      if (modelKind === 'fm16') {
        const init = rt.initParams(seed);
        const flat = new Float32Array(init.reduce((a, p) => a + p.length, 0));
        init.reduce((o, p) => (flat.set(p, o), o + p.length), 0);
        mg.write(flat); // nino bench's initial weights (PyTorch layouts -> tfjs)
      } else {
        // PyTorch's default init U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and their biases
        const rng = new Rng(seed).fork('init');
        const flat = new Float32Array(mg.graph.layout.total);
        let bound = 1;
        for (const b of mg.bindings) {
          if (b.torchShape.length > 1) bound = 1 / Math.sqrt(b.numel / b.torchShape[0]);
          for (let i = 0; i < b.numel; i++) flat[b.offset + i] = (2 * rng.uniform() - 1) * bound;
        }
        mg.write(flat);
      }
      const base = tf.train.adam(spec.lr, 0.9, 0.999, 1e-8);
      const opt =
        method === 'adam'
          ? base
          : new NiNoOptimizer({ baseOpt: base, model, ckpt: method, period, maxTrainSteps: budget });
      const sampler = rt.makeSampler(seed);
      const evaluate = (): number => {
        if (modelKind === 'flatten')
          return tf.tidy(
            () => 100 * (model.predict(xt, { batchSize: 500 }) as tf.Tensor).argMax(-1).equal(yt).mean().dataSync()[0],
          );
        const flatNow = mg.read();
        const params = rt.model.specs.map((s, i) =>
          tf.tensor(flatNow.subarray(mg.bindings[i].offset, mg.bindings[i].offset + mg.bindings[i].numel), s.shape),
        );
        const r = rt.evaluate(params);
        tf.dispose(params);
        return r.acc!;
      };
      const t0 = performance.now();
      let reachedAt: number | null = null;
      let acc = evaluate();
      // the model ends in a linear layer (logits), as the PyTorch net does: softmax cross-entropy on logits
      if (useFit)
        model.compile({
          optimizer: opt,
          loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
        });
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      for (let step = 1; step <= budget && reachedAt === null; step++) {
        const batch = sampler.next();
        if (useFit) {
          // one model.fit call per batch keeps nino bench's batch order
          const y1 = tf.oneHot(batch.y as tf.Tensor1D, 10);
          await model.fit(batch.x, y1, { batchSize: spec.batchSize, epochs: 1, shuffle: false, verbose: 0 });
          y1.dispose();
        } else {
          opt.minimize(
            () => {
              const logits = model.apply(batch.x, { training: true }) as tf.Tensor2D;
              return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.y as tf.Tensor1D, 10), logits) as tf.Scalar;
            },
            false,
            vars,
          );
        }
        tf.dispose([batch.x, batch.y]);
        if (step % evalEvery === 0 || step === budget) {
          acc = evaluate();
          if (showCurve) console.log(`  ${method} seed ${seed} step ${step}: acc ${acc.toFixed(2)}`);
          if (acc >= target) reachedAt = step;
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      const nowcasts = opt instanceof NiNoOptimizer ? opt.events.filter((e) => e.applied).length : 0;
      results.push({ method, seed, steps: reachedAt, final: acc, seconds, nowcasts });
      console.log(
        `seed ${seed} ${method}: steps to ${target}% ${reachedAt ?? `>${budget}`} (acc ${acc.toFixed(2)}, ${nowcasts} nowcasts, ${seconds.toFixed(0)} s)`,
      );
      opt.dispose();
      model.dispose();
    }
  }

  console.log('\n| method | steps to target per seed | mean | speedup vs Adam [95% CI] |');
  console.log('|---|---|---|---|');
  const stepsOf = (m: string) => seeds.map((s) => results.find((r) => r.method === m && r.seed === s)!.steps ?? budget);
  const adam = methods.includes('adam') ? stepsOf('adam') : null;
  for (const m of methods) {
    const st = stepsOf(m);
    const shown = seeds
      .map((s) => results.find((r) => r.method === m && r.seed === s)!.steps ?? `>${budget}`)
      .join(', ');
    const mean = st.reduce((a, b) => a + b, 0) / st.length;
    let sp = '';
    if (adam) {
      const p = pairedSpeedup(adam, st);
      sp = m === 'adam' ? '1.00x (baseline)' : `${p.geoMean.toFixed(2)}x [${p.lo.toFixed(2)}, ${p.hi.toFixed(2)}]`;
    }
    console.log(`| ${m} | ${shown} | ${mean.toFixed(0)} | ${sp} |`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? (process.env.NINO_DEBUG ? e.stack : e.message) : e);
  process.exit(1);
});
