/**
 * Data-parallel gradients (`train-nino --workers N`): each step's batch is split into N contiguous
 * shards of windows; this thread computes shard 0 with the trainer's own model, N-1 persistent worker
 * threads (core/worker-service.ts, each with its own tfjs backend: tfjs-backend-wasm is single-threaded
 * in Node) the others. A worker loads the trajectory files and builds its model copy once; per step it
 * gets the current trainable weights and its shard's draws (sampler.ts: drawn here, so the data order
 * is the single-thread one) and returns its mean loss, its target count and its flat gradients. They are
 * averaged weighted by target count, so the result is the 1-thread gradient of the whole batch up to
 * float summation order, and the same for a fixed N (shards, reduction order and kernels are fixed).
 */
import * as tf from '@tensorflow/tfjs';
import type { Logger } from '../core/logger.ts';
import { ServiceWorkers } from '../core/worker-service.ts';
import { workerJob, type JobContext } from '../core/workers.ts';
import type { NiNoConfig } from '../model/config.ts';
import type { HostWeights } from '../model/weights.ts';
import { TrainModel } from './model.ts';
import { drawnBatch, type SampleDraw } from './sampler.ts';
import { loadTrajectorySet, type LoadOptions, type TrajectorySet } from './trajectories.ts';

/** What a worker needs once: the data (files and how they were loaded) and the model. */
export interface ShardInit {
  files: string[];
  load: Omit<LoadOptions, 'logger' | 'archOf'>;
  cfg: NiNoConfig;
  host: HostWeights;
}

/** One step's work for a worker. */
export interface ShardRequest {
  /** the trainable weights, in TrainModel.trainable order */
  weights: Float32Array[];
  draws: SampleDraw[];
  /** test hook: a NaN in the shard's first input */
  poison: boolean;
}

export interface ShardGrads {
  /** mean L1 over the shard's targets */
  loss: number;
  /** the shard's targets */
  count: number;
  /** gradients of `loss`, in TrainModel.trainable order */
  grads: Float32Array[];
  /** milliseconds the shard took where it ran (weights in, batch, forward/backward, gradients out) */
  ms: number;
}

/** Where the last step's wall time went (milliseconds), for the throughput benchmark. */
export interface StepTimings {
  /** shard 0, in this thread */
  main: number;
  /** each worker's shard, measured in the worker */
  workers: number[];
  /** from the end of shard 0 until the last worker's gradients were here */
  wait: number;
  /** averaging the shards' gradients */
  reduce: number;
}

/** Loss and gradients of one shard of a batch with `model`'s current weights. */
export function shardGrads(
  model: TrainModel,
  set: TrajectorySet,
  draws: readonly SampleDraw[],
  poison: boolean,
): ShardGrads {
  const t0 = performance.now();
  const b = drawnBatch(set, draws, model.cfg.ctx, model.cfg.maxHorizon, model.lpe);
  if (poison) b.edgeAttr[0] = NaN;
  const { loss, grads } = model.lossAndGrads(b);
  const out = {
    loss: loss.dataSync()[0],
    count: b.count,
    grads: grads.map((g) => new Float32Array(g.dataSync() as Float32Array)),
    ms: performance.now() - t0, // after the syncs above: properties are evaluated in order
  };
  loss.dispose();
  grads.forEach((g) => g.dispose());
  return out;
}

/** The worker side: loads the data and the model once, then answers ShardRequests. */
export async function metaTrainShard(
  init: ShardInit,
  _o: JobContext,
): Promise<(q: ShardRequest) => Promise<ShardGrads>> {
  const set = loadTrajectorySet(init.files, init.load);
  const model = new TrainModel(init.cfg, init.host);
  return async (q) => {
    const t0 = performance.now();
    model.trainable.forEach((v, i) => tf.tidy(() => v.assign(tf.tensor(q.weights[i], v.shape, 'float32'))));
    const out = shardGrads(model, set, q.draws, q.poison);
    out.ms = performance.now() - t0;
    return out;
  };
}
export const metaTrainShardJob = workerJob(import.meta.url, metaTrainShard);

/** n items in `parts` contiguous shards, the first n % parts one larger: [start, end) each */
export function shardRanges(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  const base = Math.floor(n / parts);
  let s = 0;
  for (let i = 0; i < parts; i++) {
    const e = s + base + (i < n % parts ? 1 : 0);
    out.push([s, e]);
    s = e;
  }
  return out;
}

/** Count-weighted mean of the shards' losses and gradients (float64 sums in shard order). */
export function combineShards(shards: readonly Omit<ShardGrads, 'ms'>[]): { loss: number; grads: Float32Array[] } {
  const total = Math.max(
    1,
    shards.reduce((a, s) => a + s.count, 0),
  );
  let loss = 0;
  const acc = shards[0].grads.map((g) => new Float64Array(g.length));
  for (const s of shards) {
    const w = s.count / total;
    loss += w * s.loss;
    s.grads.forEach((g, k) => {
      const a = acc[k];
      for (let j = 0; j < g.length; j++) a[j] += w * g[j];
    });
  }
  return { loss, grads: acc.map((a) => new Float32Array(a)) };
}

export interface ParallelOptions {
  /** shards per batch (this thread + workers - 1 threads) */
  workers: number;
  /** the files `set` was loaded from, in that order, and how */
  files: string[];
  load: ShardInit['load'];
  cfg: NiNoConfig;
  host: HostWeights;
  /** the workers' tfjs backend (a concrete one) */
  backend: string;
  logger?: Logger;
}

/** This thread and workers - 1 worker threads computing the gradients of a batch together. */
export class ParallelGrads {
  /** where the last compute() spent its time */
  lastTimings: StepTimings | null = null;

  private constructor(
    readonly workers: number,
    private readonly set: TrajectorySet,
    private readonly threads: ServiceWorkers<ShardRequest, ShardGrads>,
  ) {}

  static async start(set: TrajectorySet, o: ParallelOptions): Promise<ParallelGrads> {
    if (!(o.workers >= 2)) throw new Error(`ParallelGrads needs 2 or more workers (got ${o.workers})`);
    const init: ShardInit = { files: o.files, load: o.load, cfg: o.cfg, host: o.host };
    const threads = await ServiceWorkers.start(
      metaTrainShardJob,
      Array.from({ length: o.workers - 1 }, () => init),
      { backend: o.backend, logger: o.logger },
    );
    return new ParallelGrads(o.workers, set, threads);
  }

  /** The batch's loss and gradients with `model`'s weights: shard 0 here, the others in the workers. */
  async compute(
    model: TrainModel,
    draws: readonly SampleDraw[],
    poison: boolean,
  ): Promise<{ loss: number; grads: Float32Array[] }> {
    const ranges = shardRanges(draws.length, Math.min(this.workers, draws.length));
    const weights = ranges.length > 1 ? model.trainable.map((v) => v.dataSync() as Float32Array) : [];
    const remote = ranges
      .slice(1)
      .map(([s, e], i) => this.threads.request(i, { weights, draws: draws.slice(s, e), poison: false }));
    try {
      const mine = shardGrads(model, this.set, draws.slice(ranges[0][0], ranges[0][1]), poison);
      const t1 = performance.now();
      const theirs = await Promise.all(remote);
      const t2 = performance.now();
      const out = combineShards([mine, ...theirs]);
      this.lastTimings = {
        main: mine.ms,
        workers: theirs.map((r) => r.ms),
        wait: t2 - t1,
        reduce: performance.now() - t2,
      };
      return out;
    } finally {
      // a failed shard here must not leave the others' rejections unhandled
      await Promise.allSettled(remote);
    }
  }

  close(): Promise<void> {
    return this.threads.close();
  }
}
