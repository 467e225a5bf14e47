/**
 * The loss a verified jump is checked with (nowcast/nino.ts `JumpCheck`): the task model's mean loss on
 * the runtime's fixed check batch, over a flat parameter vector in the model's ParamSpec order.
 *
 *   const opt = new NiNo({ baseOpt, nowcaster, period, check: jumpCheckFor(rt) });
 */
import * as tf from '@tensorflow/tfjs';
import { makeLayout } from '../core/params.ts';
import type { JumpCheck } from '../nowcast/nino.ts';
import type { TaskRuntime } from '../tasks/runtime.ts';

export function jumpCheckFor(
  rt: TaskRuntime,
  o: Pick<JumpCheck, 'scales' | 'tolerance' | 'lookahead'> = {},
): JumpCheck {
  const layout = makeLayout(rt.model.specs);
  return {
    ...o,
    loss(flat: Float32Array): number {
      if (flat.length !== layout.total)
        throw new Error(`jump check: ${flat.length} parameters, the model has ${layout.total}`);
      const batch = rt.checkBatch();
      return tf.tidy(() => {
        const params = layout.entries.map((e) =>
          tf.tensor(flat.subarray(e.offset, e.offset + e.numel), e.shape, 'float32'),
        );
        return rt.model.loss(params, batch).dataSync()[0];
      });
    },
  };
}
