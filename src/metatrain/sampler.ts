/**
 * The training data order: which windows each batch holds. A batch draws one task uniformly (each task
 * gets the same share of batches whatever its number of trajectories), then `batch` windows from that
 * task's trajectories (`windowsPerTraj` per drawn trajectory), each with its word-embedding subgraph
 * (LM graphs) and random LPE sign flips. A batch holds one task only, so it is padded to that task's
 * feature slots (a transformer's 1, not a conv net's 9: 9x less work and memory in the output head).
 * With one task this is the plain uniform draw over trajectories. All randomness comes from one Rng
 * (its state is checkpointed); drawing is cheap, building the windows (makeSample) is separate, so
 * the draws can be made in one place and the windows built where they are used.
 */
import { Rng } from '../core/rng.ts';
import { assembleBatch, batchFeat, type GraphBatch } from './batch.ts';
import type { TrainConfig } from './config.ts';
import { groupByTask, type TrajectorySet } from './trajectories.ts';
import { makeSample, numWindowStarts, wteSubset, type Sample, type Subset } from './windows.ts';

/** One drawn window: where it starts, and the random choices made for it. */
export interface SampleDraw {
  traj: number;
  start: number;
  /** set when wteRows > 0 (null: the graph has no more vocabulary rows than that) */
  subset?: Subset | null;
  /** set when lpe > 0 */
  lpeSign?: Float32Array;
}

export class BatchSampler {
  rng: Rng;
  /** training trajectory ids grouped by task */
  private readonly byTask: number[][];

  constructor(
    readonly set: TrajectorySet,
    readonly trainIds: readonly number[],
    readonly tc: TrainConfig,
    readonly lpe: number,
  ) {
    if (!trainIds.length) throw new Error('no training trajectories');
    for (const i of trainIds) {
      if (numWindowStarts(set.trajs[i], tc.ctx) === 0)
        throw new Error(`${set.trajs[i].path}: too short for one window`);
    }
    this.byTask = [...groupByTask(set, trainIds, (i) => i).values()];
    this.rng = new Rng(`${tc.seed}:data`);
  }

  /** a different data order (after a rollback), deterministic given the seed and the rollback count */
  reseed(rollbacks: number): void {
    this.rng = new Rng(`${this.tc.seed}:data:rollback:${rollbacks}`);
  }

  /** Draws the trajectories a batch comes from (advances the sampler): those of one task. */
  drawTaskTrajectories(): readonly number[] {
    return this.byTask.length > 1 ? this.byTask[this.rng.int(this.byTask.length)] : this.trainIds;
  }

  /** Draws the windows of the next batch (advances the sampler). */
  drawBatch(): SampleDraw[] {
    const { batch, windowsPerTraj, ctx } = this.tc;
    const draws: SampleDraw[] = [];
    const ids = this.drawTaskTrajectories();
    while (draws.length < batch) {
      const ti = ids[this.rng.int(ids.length)];
      const n = numWindowStarts(this.set.trajs[ti], ctx);
      for (let w = 0; w < windowsPerTraj && draws.length < batch; w++) {
        const d: SampleDraw = { traj: ti, start: this.rng.int(n) };
        if (this.tc.wteRows > 0)
          d.subset = wteSubset(this.set.graphs[this.set.trajs[ti].graph].graph, this.tc.wteRows, this.rng);
        if (this.lpe > 0) {
          d.lpeSign = new Float32Array(this.lpe);
          for (let k = 0; k < this.lpe; k++) d.lpeSign[k] = this.rng.uniform() < 0.5 ? -1 : 1;
        }
        draws.push(d);
      }
    }
    return draws;
  }
}

/** The window of a draw, with its subgraph and sign flips. */
export function drawnSample(set: TrajectorySet, d: SampleDraw, ctx: number, maxHorizon: number): Sample {
  const s = makeSample(set, d.traj, d.start, ctx, maxHorizon);
  if (d.subset !== undefined) s.subset = d.subset;
  if (d.lpeSign) s.lpeSign = d.lpeSign;
  return s;
}

/** The batch of these draws (padded to their largest graph's feature slots). */
export function drawnBatch(
  set: TrajectorySet,
  draws: readonly SampleDraw[],
  ctx: number,
  maxHorizon: number,
  lpe: number,
): GraphBatch {
  const samples = draws.map((d) => drawnSample(set, d, ctx, maxHorizon));
  return assembleBatch(set, samples, batchFeat(set, samples), ctx, maxHorizon, lpe);
}
