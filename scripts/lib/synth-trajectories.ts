/**
 * Synthetic smooth trajectories with a registry task's exact parameter layout (for the meta-training
 * benchmarks): p_i(r) = a_i + b_i * log(1 + r), records every 60 steps, one file per seed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeLayout } from '../../src/core/params.ts';
import { Rng } from '../../src/core/rng.ts';
import { getTask } from '../../src/tasks/registry.ts';
import { makeModel } from '../../src/tasks/runtime.ts';
import { writeTrajectory } from '../../src/trajectories/arrow.ts';

/** Writes <dir>/seed-<s>.arrow for s = 1..seeds; returns dir. */
export function writeSynthTrajectories(dir: string, task: string, seeds = 3, records = 26): string {
  mkdirSync(dir, { recursive: true });
  const lay = makeLayout(makeModel(getTask(task)).specs);
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = new Rng(seed);
    const a = Float32Array.from({ length: lay.total }, () => 0.1 * rng.normal());
    const b = Float32Array.from({ length: lay.total }, () => 0.05 * rng.normal());
    const recs = Array.from({ length: records }, (_, r) => ({
      step: r * 60,
      params: Float32Array.from(a, (x, i) => x + b[i] * Math.log1p(r)),
      metrics: {},
    }));
    writeTrajectory(
      join(dir, `seed-${seed}.arrow`),
      lay,
      { task, seed, config: {}, toolVersion: 'bench', schemaVersion: 1 },
      recs,
    );
  }
  return dir;
}
