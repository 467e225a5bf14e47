/** The meta-training optimizer: AdamW with cosine decay of the learning rate from lr to minLr over `steps`. */
import { AdamW } from '../optim/adamw.ts';
import type { TrainConfig } from './config.ts';

export function cosineLr(step: number, total: number, lr: number, minLr: number): number {
  const t = Math.min(1, step / Math.max(1, total));
  return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
}

/** the learning rate of a step */
export const trainLr = (tc: TrainConfig, step: number): number => cosineLr(step, tc.steps, tc.lr, tc.minLr);

/** AdamW(lr, wd) with the cosine schedule of tc */
export function makeTrainOptimizer(tc: TrainConfig): AdamW {
  return new AdamW({ lr: tc.lr, weightDecay: tc.wd, lrSchedule: (s) => trainLr(tc, s) / tc.lr });
}
