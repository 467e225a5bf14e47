/**
 * Example: the tfjs-tutorial conv net (conv -> pool -> conv -> pool -> Flatten -> Dense) on
 * Fashion-MNIST with model.fit, and NiNo wrapped around tf.train.adam in one line.
 *
 *   npx tsx examples/fashion-mnist-fit.ts                      # 3,000 steps, NiNo every 300
 *   npx tsx examples/fashion-mnist-fit.ts --steps 40 --period 20   # a quick run (NINO_EXAMPLE_STEPS=40 too)
 *   options: --steps N  --period N  --batch N (128)  --ckpt project|official:nino_no_posw|<file>  --data-dir DIR  --backend wasm|cpu
 *
 * Data: Fashion-MNIST read by nino's loader (--data-dir, $NINO_DATA_DIR or /usr/share/datasets/fashion-mnist).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, NiNoOptimizer } from 'nino';
import { loadDataset } from 'nino/data';
import { tutorialConvNet } from './models.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : def;
};
const steps = Number(arg('steps', process.env.NINO_EXAMPLE_STEPS ?? '3000'));
const period = Number(arg('period', String(Math.min(300, 5 * Math.max(1, Math.floor(steps / 50))))));
const batchSize = Number(arg('batch', '128'));

// wasm + nino's kernels: the fast CPU path for conv-net training (plain tfjs wasm lacks them)
await initBackend(arg('backend', process.env.NINO_BACKEND ?? 'wasm'));
const dataDir = process.argv.includes('--data-dir') ? arg('data-dir', '') : undefined;
const ds = await loadDataset('fashion-mnist', dataDir ? { dataDir } : {});
if (ds.kind !== 'vision') throw new Error('expected an image dataset');
const { train, test, shape } = ds.split;
const n = Math.min(train.count, steps * batchSize);
const xs = tf.tensor4d(train.x.subarray(0, n * 784), [n, ...shape]);
const ys = tf.oneHot(tf.tensor1d(train.y.subarray(0, n), 'int32'), 10);

const model = tutorialConvNet(shape); // conv -> pool -> conv -> pool -> Flatten -> Dense(softmax), see models.ts

// the one-line wrap: NiNo nowcasts the model's own weights every `period` Adam steps
const optimizer = new NiNoOptimizer({
  baseOpt: tf.train.adam(3e-3),
  model,
  ckpt: arg('ckpt', 'project'),
  period,
  maxTrainSteps: steps,
});
model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

const epochs = Math.ceil((steps * batchSize) / n);
await model.fit(xs, ys, {
  batchSize,
  epochs,
  shuffle: true,
  verbose: 0,
  callbacks: {
    onEpochEnd: (e, logs) =>
      console.log(`epoch ${e + 1}/${epochs}: loss ${logs?.loss?.toFixed(4)}, acc ${logs?.acc?.toFixed(4)}`),
  },
});
const nt = Math.min(test.count, 2000);
const xt = tf.tensor4d(test.x.subarray(0, nt * 784), [nt, ...shape]);
const yt = tf.oneHot(tf.tensor1d(test.y.subarray(0, nt), 'int32'), 10);
const [, acc] = model.evaluate(xt, yt, { batchSize: 500 }) as tf.Scalar[];
console.log(
  `steps ${optimizer.iterations}, nowcasts ${optimizer.events.map((e) => `@${e.stepIdx} k=${e.k}`).join(' ')}`,
);
console.log(`test accuracy (${nt} images): ${(100 * (await acc!.data())[0]!).toFixed(2)}%`);
