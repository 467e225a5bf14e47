/**
 * Example: a custom training loop with optimizer.minimize: the FM-16 conv net as a tf.sequential,
 * Fashion-MNIST batches, NiNo around tf.train.adam. A nowcast step is just another minimize() call.
 *
 *   npx tsx examples/custom-loop-minimize.ts                        # 3,000 steps, NiNo every 300
 *   npx tsx examples/custom-loop-minimize.ts --steps 40 --period 20   # a quick run (NINO_EXAMPLE_STEPS=40 too)
 *   options: --steps N  --period N  --batch N (128)  --ckpt project|official:nino_no_posw|<file>  --data-dir DIR  --backend wasm|cpu
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, NiNoOptimizer } from 'nino';
import { loadDataset } from 'nino/data';
import { fm16Sequential } from './models.ts';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : def;
};
const steps = Number(arg('steps', process.env.NINO_EXAMPLE_STEPS ?? '3000'));
const period = Number(arg('period', String(Math.min(300, 5 * Math.max(1, Math.floor(steps / 50))))));
const batchSize = Number(arg('batch', '128'));

await initBackend(arg('backend', process.env.NINO_BACKEND ?? 'wasm'));
const dataDir = process.argv.includes('--data-dir') ? arg('data-dir', '') : undefined;
const ds = await loadDataset('fashion-mnist', dataDir ? { dataDir } : {});
if (ds.kind !== 'vision') throw new Error('expected an image dataset');
const { train, test, shape } = ds.split;

const model = fm16Sequential();
const optimizer = new NiNoOptimizer({
  baseOpt: tf.train.adam(6e-3),
  model,
  ckpt: arg('ckpt', 'project'),
  period,
  maxTrainSteps: steps,
});

const nt = Math.min(test.count, 2000);
const xt = tf.tensor4d(test.x.subarray(0, nt * 784), [nt, ...shape]);
const yt = tf.tensor1d(test.y.subarray(0, nt), 'int32');
const accuracy = () => tf.tidy(() => 100 * (model.predict(xt) as tf.Tensor).argMax(-1).equal(yt).mean().dataSync()[0]!);

for (let step = 1; step <= steps; step++) {
  const start = ((step - 1) * batchSize) % (train.count - batchSize);
  const x = tf.tensor4d(train.x.subarray(start * 784, (start + batchSize) * 784), [batchSize, ...shape]);
  const y = tf.oneHot(tf.tensor1d(train.y.subarray(start, start + batchSize), 'int32'), 10);
  const jump = optimizer.nextStepNowcast;
  const loss = optimizer.minimize(
    () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar,
    true,
  );
  if (jump)
    console.log(`step ${step}: nowcast k=${optimizer.events.at(-1)?.k}, test accuracy ${accuracy().toFixed(2)}%`);
  else if (step % 100 === 0 || step === steps)
    console.log(`step ${step}: loss ${loss!.dataSync()[0]!.toFixed(4)}, test accuracy ${accuracy().toFixed(2)}%`);
  tf.dispose([x, y, loss!]);
}
