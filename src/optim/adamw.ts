/**
 * AdamW with PyTorch's update rule (torch.optim.AdamW, decoupled weight decay, bias correction):
 *   p <- p * (1 - lr*wd)
 *   m <- b1 m + (1-b1) g ;  v <- b2 v + (1-b2) g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * Moments survive a NiNo jump (the wrapper only rewrites params), as in the official code.
 */
import * as tf from '@tensorflow/tfjs';
import type { Optimizer, OptimizerState } from './types.ts';

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** optional schedule: lr multiplier as a function of the 0-based step */
  lrSchedule?: (step: number) => number;
}

export class AdamW implements Optimizer {
  readonly needGrads = true;
  stepCount = 0;
  private m: tf.Variable[] = [];
  private v: tf.Variable[] = [];
  readonly opts: Required<Omit<AdamWOptions, 'lrSchedule'>> & { lrSchedule?: (s: number) => number };

  constructor(opts: AdamWOptions) {
    this.opts = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, ...opts };
  }

  private ensure(params: tf.Variable[]): void {
    if (this.pending) return this.attach(params);
    if (this.m.length === params.length) return;
    const zeros = (p: tf.Tensor) => tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    this.m = params.map(zeros);
    this.v = params.map(zeros);
  }

  step(params: tf.Variable[], grads: tf.Tensor[] | null): void {
    if (!grads) throw new Error('AdamW.step needs gradients');
    this.ensure(params);
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.opts;
    const t = this.stepCount + 1;
    const lr = this.opts.lr * (this.opts.lrSchedule ? this.opts.lrSchedule(this.stepCount) : 1);
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    tf.tidy(() => {
      for (let i = 0; i < params.length; i++) {
        const g = grads[i];
        const m = this.m[i].mul(b1).add(g.mul(1 - b1));
        const v = this.v[i].mul(b2).add(g.square().mul(1 - b2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const denom = v.sqrt().div(bc2Sqrt).add(eps);
        let p: tf.Tensor = params[i];
        if (wd !== 0) p = p.mul(1 - lr * wd);
        params[i].assign(p.sub(m.div(denom).mul(lr / bc1)));
      }
    });
    this.stepCount = t;
  }

  getState(): OptimizerState {
    if (this.pending) return { kind: 'adamw', step: this.stepCount, arrays: { ...this.pending.arrays } };
    const arrays: Record<string, Float32Array> = {};
    this.m.forEach((x, i) => (arrays[`m.${i}`] = (x.dataSync() as Float32Array).slice()));
    this.v.forEach((x, i) => (arrays[`v.${i}`] = (x.dataSync() as Float32Array).slice()));
    return { kind: 'adamw', step: this.stepCount, arrays };
  }

  setState(s: OptimizerState): void {
    if (s.kind !== 'adamw') throw new Error(`cannot load optimizer state of kind '${s.kind}' into AdamW`);
    this.dispose();
    this.stepCount = s.step;
    const n = Object.keys(s.arrays).filter((k) => k.startsWith('m.')).length;
    // shapes are restored lazily from params: keep flat here, reshape on first step
    this.pending = { n, arrays: s.arrays };
  }

  private pending: { n: number; arrays: Record<string, Float32Array> } | null = null;

  /** Materialises moments restored by setState, given the parameter shapes. */
  private attach(params: tf.Variable[]): void {
    if (!this.pending) return;
    const { n, arrays } = this.pending;
    if (n !== params.length) {
      throw new Error(
        `AdamW: the restored state of ${n} tensors does not fit ${params.length} parameter tensors (a state saved for another model?)`,
      );
    }
    const load = (key: string, p: tf.Tensor) => tf.tidy(() => tf.variable(tf.tensor(arrays[key], p.shape), false));
    this.m = params.map((p, i) => load(`m.${i}`, p));
    this.v = params.map((p, i) => load(`v.${i}`, p));
    this.pending = null;
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
    this.m = [];
    this.v = [];
  }
}
