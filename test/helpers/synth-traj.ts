/** Small synthetic trajectories in the real Arrow format, for the meta-training tests. */
import { join } from 'node:path';
import { makeLayout, type ParamSpec } from '../../src/core/params.ts';
import { Rng } from '../../src/core/rng.ts';
import { writeTrajectory } from '../../src/trajectories/arrow.ts';
import type { TrajectoryRecord } from '../../src/trajectories/schema.ts';

export const SPECS: ParamSpec[] = [
  { name: 'fc.0.weight', shape: [4, 3] },
  { name: 'fc.0.bias', shape: [4] },
  { name: 'fc.1.weight', shape: [2, 4] },
  { name: 'fc.1.bias', shape: [2] },
];
export const layout = makeLayout(SPECS);
export const TASK = 'tiny-mlp';

/** smooth synthetic trajectory: p_i(step) = a_i + b_i * (1 - exp(-step / tau_i)) */
export function synthRecords(seed: number, n: number, every = 10, spec = layout): TrajectoryRecord[] {
  const rng = new Rng(seed);
  const N = spec.total;
  const a = Float32Array.from({ length: N }, () => rng.normal());
  const b = Float32Array.from({ length: N }, () => 0.5 * rng.normal());
  const tau = Float32Array.from({ length: N }, () => 30 + 60 * rng.uniform());
  return Array.from({ length: n }, (_, r) => ({
    step: r * every,
    params: Float32Array.from({ length: N }, (_, i) => a[i] + b[i] * (1 - Math.exp(-(r * every) / tau[i]))),
    metrics: {},
  }));
}

export function writeSynth(
  dir: string,
  seed: number,
  n = 20,
  opts: { task?: string; specs?: ParamSpec[]; records?: TrajectoryRecord[] } = {},
): string {
  const lay = makeLayout(opts.specs ?? SPECS);
  const path = join(dir, `seed-${seed}.arrow`);
  writeTrajectory(
    path,
    lay,
    { task: opts.task ?? TASK, seed, config: { model: { arch: 'mlp' } }, toolVersion: 'test', schemaVersion: 1 },
    opts.records ?? synthRecords(seed, n, 10, lay),
  );
  return path;
}
