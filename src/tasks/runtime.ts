/**
 * A task made runnable: its model definition, its data loaded, a deterministic batch stream per seed,
 * and evaluation of the task metric on the held-out split.
 *
 *   const rt = await loadTaskRuntime(getTask('FM-16-3k'), { dataDir });
 *   const sampler = rt.makeSampler(1000); const batch = sampler.next(); ... rt.evaluate(params)
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/logger.ts';
import { silentLogger } from '../core/logger.ts';
import { Rng } from '../core/rng.ts';
import { EpochSampler, evalWindows, sampleWindows, type TokenBatch } from '../data/batching.ts';
import type { SourceOptions } from '../data/fetch.ts';
import { loadDataset } from '../data/index.ts';
import type { TokenData } from '../data/token-data.ts';
import type { VisionSplit } from '../data/vision.ts';
import { makeConvNet } from './models/convnet.ts';
import { makeGpt2 } from './models/gpt2.ts';
import { makeMlp } from './models/mlp.ts';
import { makeTfjsModel } from './models/tfjs.ts';
import { InputError } from '../core/errors.ts';
import { loadCsvFile, loadIdxFolder, loadTextFolder } from '../data/files.ts';
import type { TaskSpec } from './registry.ts';
import type { Batch, ModelDef } from './types.ts';

export interface EvalResult {
  loss: number;
  /** accuracy in % (vision) */
  acc?: number;
  /** perplexity (language) */
  ppl?: number;
}

/** Deterministic training stream of one seed; state is JSON for resuming. */
export interface BatchSampler {
  /** next training batch; the caller disposes the tensors */
  next(): Batch;
  getState(): Record<string, number>;
  setState(s: Record<string, number>): void;
}

export interface TaskRuntime {
  spec: TaskSpec;
  model: ModelDef;
  makeSampler(seed: number): BatchSampler;
  /** held-out metric of the given parameters (test split for vision, validation tokens for language) */
  evaluate(params: tf.Tensor[]): EvalResult;
  /** the value compared to spec.target */
  metricOf(r: EvalResult): number;
  /** true when r reaches the task's target */
  reached(r: EvalResult): boolean;
  /** initial parameters of a seed, one array per ParamSpec */
  initParams(seed: number): Float32Array[];
  /** the same, as trainable variables (the caller disposes them) */
  initVariables(seed: number): tf.Variable[];
  /**
   * A fixed batch for checking a nowcast (the same for every seed, made once, owned by the runtime):
   * vision: the first examples of the validation split (held out of training, not the test set the
   * target is measured on); language: fixed training windows drawn from their own random stream.
   */
  checkBatch(): Batch;
}

/** Examples (vision) or windows (language) in the check batch: four training batches. */
export const CHECK_BATCHES = 4;

export interface RuntimeOptions extends SourceOptions {
  logger?: Logger;
  /** evaluate on only the first N held-out examples (vision) — faster, noisier; default all */
  evalLimit?: number;
}

export function makeModel(spec: TaskSpec): ModelDef {
  const m = spec.model;
  if (m.arch === 'convnet') return makeConvNet({ hid: m.hid, inChannels: m.inChannels, numClasses: m.numClasses });
  if (m.arch === 'mlp') return makeMlp({ inFeatures: m.inFeatures, hidden: m.hidden, numClasses: m.numClasses });
  if (m.arch === 'tfjs') return makeTfjsModel(m);
  return makeGpt2({
    vocabSize: m.vocabSize,
    nPositions: m.nPositions,
    nEmbd: m.nEmbd,
    nLayer: m.nLayer,
    nHead: m.nHead,
  });
}

const dataCache = new Map<string, Promise<VisionSplit | TokenData>>();

async function loadData(spec: TaskSpec, o: RuntimeOptions): Promise<VisionSplit | TokenData> {
  const key =
    spec.dataset === 'files'
      ? `files:${JSON.stringify(spec.files)}`
      : `${spec.dataset}:${o.dataDir ?? ''}:${o.dataDirFromEnv ?? ''}`;
  if (!dataCache.has(key)) {
    const p = (async () => {
      const f = spec.files;
      if (spec.dataset === 'files') {
        if (!f) throw new InputError(`task '${spec.name}': dataset 'files' without a files entry`);
        const d =
          f.format === 'idx'
            ? loadIdxFolder(f.path, { holdout: f.holdout })
            : f.format === 'csv'
              ? loadCsvFile(f.path, f)
              : await loadTextFolder(f.path, { ...f, cacheDir: o.cacheDir });
        checkDataFits(spec, d);
        return d;
      }
      const d = await loadDataset(spec.dataset, {
        dataDir: o.dataDir,
        dataDirFromEnv: o.dataDirFromEnv,
        cacheDir: o.cacheDir,
        download: o.download,
      });
      return d.kind === 'vision' ? d.split : d.tokens;
    })();
    dataCache.set(key, p);
    p.catch(() => dataCache.delete(key));
  }
  return dataCache.get(key)!;
}

/** Fails (InputError) when the user's data does not fit the task's model (channels, features, classes). */
function checkDataFits(spec: TaskSpec, d: VisionSplit | TokenData): void {
  const m = spec.model;
  const where = `task '${spec.name}' (${spec.files?.path})`;
  if ('train' in d && 'shape' in d) {
    const [H, W, C] = d.shape;
    if (m.arch === 'convnet' && m.inChannels !== C)
      throw new InputError(`${where}: images have ${C} channel(s) but model.inChannels is ${m.inChannels}`);
    if (m.arch === 'mlp' && m.inFeatures !== H * W * C)
      throw new InputError(`${where}: examples have ${H * W * C} values but model.inputs is ${m.inFeatures}`);
    if (m.arch === 'tfjs' && m.inputShape.reduce((a, b) => a * b, 1) !== H * W * C)
      throw new InputError(
        `${where}: examples have ${H * W * C} values but the model's input [${m.inputShape}] takes ${m.inputShape.reduce((a, b) => a * b, 1)}`,
      );
    if ((m.arch === 'mlp' || m.arch === 'convnet' || m.arch === 'tfjs') && d.numClasses > m.numClasses)
      throw new InputError(`${where}: labels go up to ${d.numClasses - 1} but model.classes is ${m.numClasses}`);
    if (d.test.count === 0) throw new InputError(`${where}: no held-out examples`);
  } else {
    const t = d as TokenData;
    if (m.arch === 'gpt2' && t.vocabSize > m.vocabSize)
      throw new InputError(
        `${where}: the ${t.tokenizer} tokens need vocab ${t.vocabSize} but model.vocab is ${m.vocabSize}`,
      );
    const T = spec.contextLen ?? 64;
    if (t.train.length <= T + 1 || t.val.length <= T + 1)
      throw new InputError(
        `${where}: ${t.train.length} training / ${t.val.length} held-out tokens; each needs more than contextLen+1 = ${T + 1}`,
      );
  }
}

/** Loads the user's data of a task-file task and checks it fits the model (no-op for built-in datasets). */
export async function checkTaskData(spec: TaskSpec, o: RuntimeOptions = {}): Promise<void> {
  if (spec.dataset === 'files') await loadData(spec, o);
}

export async function loadTaskRuntime(spec: TaskSpec, o: RuntimeOptions = {}): Promise<TaskRuntime> {
  const logger = o.logger ?? silentLogger;
  const model = makeModel(spec);
  const data = await loadData(spec, o);
  const initParams = (seed: number) => model.init(new Rng(seed).fork('init'));
  const initVariables = (seed: number) => {
    const init = initParams(seed);
    return model.specs.map((p, i) => tf.variable(tf.tensor(init[i], p.shape, 'float32'), true));
  };
  const isVision = spec.model.arch !== 'gpt2';
  const reached = (r: EvalResult) =>
    spec.target.metric === 'acc' ? (r.acc ?? -Infinity) >= spec.target.value : (r.ppl ?? Infinity) <= spec.target.value;
  const metricOf = (r: EvalResult) => (spec.target.metric === 'acc' ? r.acc! : r.ppl!);

  if (isVision) {
    const d = data as VisionSplit;
    const [H, W, C] = d.shape;
    const px = H * W * C;
    const evalN = Math.min(o.evalLimit ?? d.test.count, d.test.count);
    const evalChunk = 1000;
    // held-out images as resident tensors (created once)
    const evalX: tf.Tensor4D[] = [];
    const evalY: tf.Tensor1D[] = [];
    for (let s = 0; s < evalN; s += evalChunk) {
      const e = Math.min(evalN, s + evalChunk);
      evalX.push(tf.tensor4d(d.test.x.subarray(s * px, e * px), [e - s, H, W, C]));
      evalY.push(tf.tensor1d(d.test.y.subarray(s, e), 'int32'));
    }
    logger.debug({ task: spec.name, train: d.train.count, eval: evalN }, 'vision data ready');
    let check: Batch | null = null;
    const checkBatch = (): Batch => {
      if (!check) {
        // the validation split when there is one (not the test set the target is measured on), else training images
        const src = d.val.count > 0 ? d.val : d.train;
        const n = Math.min(src.count, CHECK_BATCHES * spec.batchSize);
        check = {
          x: tf.tensor4d(src.x.subarray(0, n * px), [n, H, W, C]),
          y: tf.tensor1d(src.y.subarray(0, n), 'int32'),
        };
      }
      return check;
    };
    return {
      spec,
      model,
      initParams,
      initVariables,
      reached,
      metricOf,
      checkBatch,
      makeSampler(seed) {
        const s = new EpochSampler(d.train.count, spec.batchSize, new Rng(seed).fork('data'));
        return {
          next() {
            const idx = s.next();
            const x = new Float32Array(idx.length * px);
            const y = new Int32Array(idx.length);
            for (let i = 0; i < idx.length; i++) {
              x.set(d.train.x.subarray(idx[i] * px, (idx[i] + 1) * px), i * px);
              y[i] = d.train.y[idx[i]];
            }
            return { x: tf.tensor4d(x, [idx.length, H, W, C]), y: tf.tensor1d(y, 'int32') };
          },
          getState: () => ({ ...s.getState() }),
          setState: (st) => s.setState({ epoch: st.epoch, pos: st.pos }),
        };
      },
      evaluate(params) {
        let lossSum = 0;
        let correct = 0;
        for (let i = 0; i < evalX.length; i++) {
          const [l, c] = tf.tidy(() => {
            const logits = model.forward(params, evalX[i]) as tf.Tensor2D;
            // summed cross-entropy; oneHot stays int32 (float32 oneHot returns zeros on tfjs-wasm 4.22)
            const picked = tf.logSoftmax(logits).mul(tf.oneHot(evalY[i], logits.shape[1]).toFloat());
            const loss = picked.sum().neg();
            const corr = logits.argMax(-1).equal(evalY[i]).sum();
            return [loss.dataSync()[0], corr.dataSync()[0]];
          });
          lossSum += l;
          correct += c;
        }
        return { loss: lossSum / evalN, acc: (100 * correct) / evalN };
      },
    };
  }

  const d = data as TokenData;
  const T = spec.contextLen ?? 64;
  const maxWindows = Math.floor((spec.evalTokens ?? 65_536) / T);
  const windows = evalWindows(d.val, T, spec.batchSize * 4, maxWindows);
  const toBatch = (b: TokenBatch): Batch => ({
    x: tf.tensor2d(b.x, [b.batchSize, T], 'int32'),
    y: tf.tensor2d(b.y, [b.batchSize, T], 'int32'),
  });
  let check: Batch | null = null;
  return {
    spec,
    model,
    initParams,
    initVariables,
    reached,
    metricOf,
    // fixed training windows (the validation tokens are what the target is measured on)
    checkBatch: () =>
      (check ??= toBatch(sampleWindows(d.train, CHECK_BATCHES * spec.batchSize, T, new Rng(0).fork('check')))),
    makeSampler(seed) {
      // batch of step s is a pure function of (seed, s): resuming needs only the step count
      const base = new Rng(seed).fork('data');
      let step = 0;
      return {
        next: () => toBatch(sampleWindows(d.train, spec.batchSize, T, base.fork(`step:${step++}`))),
        getState: () => ({ step }),
        setState: (st) => {
          step = st.step;
        },
      };
    },
    evaluate(params) {
      let lossSum = 0;
      let count = 0;
      for (const w of windows) {
        const b = toBatch(w);
        const l = tf.tidy(() => model.loss(params, b).dataSync()[0]);
        b.x.dispose();
        b.y.dispose();
        lossSum += l * w.batchSize * T;
        count += w.batchSize * T;
      }
      const loss = lossSum / count;
      return { loss, ppl: Math.exp(loss) };
    },
  };
}
