/**
 * The 'adam' method: AdamW (optim/adamw.ts, PyTorch semantics) with the task's learning rate and weight
 * decay, and AdamW's own betas and eps. The bench's baseline, collect's optimizer, and NiNo's base.
 * No options.
 */
import { InputError } from '../core/errors.ts';
import { AdamW, type AdamWOptions } from '../optim/adamw.ts';
import type { TaskSpec } from '../tasks/registry.ts';
import type { MethodDef } from './types.ts';

/** The AdamW options a task trains with. */
export function adamOptions(task: TaskSpec): AdamWOptions {
  return { lr: task.lr, weightDecay: task.weightDecay };
}

/** A new AdamW with the task's settings. */
export function taskAdamW(task: TaskSpec): AdamW {
  return new AdamW(adamOptions(task));
}

export const adamMethodDef: MethodDef<Record<string, never>> = {
  name: 'adam',
  description: "AdamW with the task's learning rate and weight decay (the baseline)",
  parse(options) {
    const extra = Object.keys(options ?? {});
    if (extra.length) throw new InputError(`method 'adam' takes no options (got ${extra.join(', ')})`);
    return {};
  },
  label: () => 'adam',
  key: () => 'adam',
  settings(_o, task) {
    // read back from the optimizer itself: AdamW's defaults are the only copy of beta1, beta2 and eps
    const o = taskAdamW(task).opts;
    return { kind: 'adamw', lr: o.lr, weightDecay: o.weightDecay, beta1: o.beta1, beta2: o.beta2, eps: o.eps };
  },
  create: async (_o, ctx) => taskAdamW(ctx.task),
};
