/**
 * The loss a verified jump is checked with (nowcast/nino.ts `JumpCheck`): the task model's mean loss on
 * the runtime's fixed check batch, over a flat parameter vector in the model's ParamSpec order.
 *
 *   const opt = new NiNo({ baseOpt, nowcaster, period, check: jumpCheckFor(rt) });
 */
import * as tf from '@tensorflow/tfjs';
import type { JumpCheck } from '../nowcast/nino.ts';
import type { TaskRuntime } from '../tasks/runtime.ts';

export function jumpCheckFor(rt: TaskRuntime, o: { scales?: readonly number[]; tolerance?: number } = {}): JumpCheck {
  const specs = rt.model.specs;
  const sizes = specs.map((s) => s.shape.reduce((a, b) => a * b, 1));
  const total = sizes.reduce((a, b) => a + b, 0);
  return {
    ...o,
    loss(flat: Float32Array): number {
      if (flat.length !== total) throw new Error(`jump check: ${flat.length} parameters, the model has ${total}`);
      const batch = rt.checkBatch();
      return tf.tidy(() => {
        let off = 0;
        const params = specs.map((s, i) => {
          const t = tf.tensor(flat.subarray(off, off + sizes[i]), s.shape, 'float32');
          off += sizes[i];
          return t;
        });
        return rt.model.loss(params, batch).dataSync()[0];
      });
    },
  };
}
