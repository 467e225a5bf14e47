/**
 * `linefit`: a weight-free nowcaster. For every edge and feature slot it fits a least-squares line
 * through the ctx states (t = 0..ctx-1) and extrapolates k intervals past the last state:
 *   slope = sum((t - tm)(y - ym)) / sum((t - tm)^2),  pred = ym + slope * (ctx-1+k - tm)
 *   delta = pred - y[ctx-1]                                        [E, F]
 * Computed in float64 on the host; predict() = last + delta (updScale 1).
 */
import type { Nowcaster, NowcastInput } from './types.ts';
import { applyResidual, validateInput } from './types.ts';

export class LineFit implements Nowcaster {
  readonly name = 'linefit';
  readonly kind = 'linefit' as const;
  readonly seqLen = Infinity;
  readonly maxFeat = Infinity;
  readonly needsGraph = false;
  readonly lpe = 0;
  readonly updScale = 1;

  constructor(readonly ctx = 5) {
    if (!(ctx >= 2)) throw new Error(`linefit needs ctx >= 2 states, got ${ctx}`);
  }

  predictDelta(inp: NowcastInput): Float32Array {
    const E = validateInput(inp, this.ctx, this.maxFeat, this.seqLen);
    const { F, ctx, k, edgeAttr } = inp;
    const tm = (ctx - 1) / 2;
    let stt = 0;
    for (let t = 0; t < ctx; t++) stt += (t - tm) * (t - tm);
    const out = new Float32Array(E * F);
    for (let i = 0; i < E * F; i++) {
      const o = i * ctx;
      let ym = 0;
      for (let t = 0; t < ctx; t++) ym += edgeAttr[o + t];
      ym /= ctx;
      let sty = 0;
      for (let t = 0; t < ctx; t++) sty += (t - tm) * (edgeAttr[o + t] - ym);
      const pred = ym + (sty / stt) * (ctx - 1 + k - tm);
      out[i] = pred - edgeAttr[o + ctx - 1];
    }
    return out;
  }

  predict(input: NowcastInput): Float32Array {
    return applyResidual(input, this.predictDelta(input), 1);
  }

  dispose(): void {}
}
