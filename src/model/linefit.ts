/**
 * `linefit`: a weight-free nowcaster. For every edge and feature slot it fits a least-squares line
 * through the ctx states (t = 0..ctx-1) and extrapolates k intervals past the last state:
 *   slope = sum((t - tm)(y - ym)) / sum((t - tm)^2),  pred = ym + slope * (ctx-1+k - tm)
 *   delta = pred - y[ctx-1]                                        [E, F]
 * Computed in float64 on the host; predict() = last + delta (updScale 1). `LineFitter` is the one
 * implementation; the meta-training baseline (metatrain/windows.ts) uses it too.
 */
import type { NowcastModel, NowcastInput } from './types.ts';
import { applyResidual, validateInput } from './types.ts';

/**
 * Reusable least-squares line fit over ctx consecutive values (no allocation per fit):
 *   f.fit(y, o);  f.delta(k)  // = extrapolated value k intervals past y[o+ctx-1], minus y[o+ctx-1]
 */
export class LineFitter {
  private readonly tm: number;
  private readonly stt: number;
  private ym = 0;
  private slope = 0;
  private last = 0;

  constructor(readonly ctx: number) {
    if (!(ctx >= 2)) throw new Error(`linefit needs ctx >= 2 states, got ${ctx}`);
    this.tm = (ctx - 1) / 2;
    let stt = 0;
    for (let t = 0; t < ctx; t++) stt += (t - this.tm) * (t - this.tm);
    this.stt = stt;
  }

  /** fits the line through y[o], ..., y[o + ctx - 1] */
  fit(y: ArrayLike<number>, o: number): void {
    const { ctx, tm } = this;
    let ym = 0;
    for (let t = 0; t < ctx; t++) ym += y[o + t];
    ym /= ctx;
    let sty = 0;
    for (let t = 0; t < ctx; t++) sty += (t - tm) * (y[o + t] - ym);
    this.ym = ym;
    this.slope = sty / this.stt;
    this.last = y[o + ctx - 1];
  }

  /** extrapolation k intervals past the last fitted state, minus that state */
  delta(k: number): number {
    return this.ym + this.slope * (this.ctx - 1 + k - this.tm) - this.last;
  }
}

export class LineFit implements NowcastModel {
  readonly name = 'linefit';
  readonly kind = 'linefit' as const;
  readonly maxHorizon = Infinity;
  readonly maxFeat = Infinity;
  readonly needsGraph = false;
  readonly lpe = 0;
  readonly updScale = 1;

  constructor(readonly ctx = 5) {
    if (!(ctx >= 2)) throw new Error(`linefit needs ctx >= 2 states, got ${ctx}`);
  }

  predictDelta(inp: NowcastInput): Float32Array {
    const E = validateInput(inp, this.ctx, this.maxFeat, this.maxHorizon);
    const { F, ctx, k, edgeAttr } = inp;
    const f = new LineFitter(ctx);
    const out = new Float32Array(E * F);
    for (let i = 0; i < E * F; i++) {
      f.fit(edgeAttr, i * ctx);
      out[i] = f.delta(k);
    }
    return out;
  }

  predict(input: NowcastInput): Float32Array {
    return applyResidual(input, this.predictDelta(input), 1);
  }

  dispose(): void {}
}
