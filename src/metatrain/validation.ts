/**
 * Validation: L1 of the model on fixed held-out windows (`valWindows` evenly spaced per held-out
 * trajectory), next to "last" (no change) and linefit on the same windows, pooled, per horizon bucket
 * and per task; and the one-line text of a result.
 */
import * as tf from '@tensorflow/tfjs';
import { assembleBatch, batchFeat } from './batch.ts';
import type { TrainConfig } from './config.ts';
import type { TrainModel } from './model.ts';
import { groupByTask, type TrajectorySet } from './trajectories.ts';
import { baselineErrors, makeSample, numWindowStarts, type Sample } from './windows.ts';

export interface ValBucket {
  h: string;
  l1: number;
  last: number;
  linefit: number;
}

export interface ValResult {
  step: number;
  l1: number;
  last: number;
  linefit: number;
  beatsLinefit: boolean;
  beatsLast: boolean;
  buckets: ValBucket[];
  windows: number;
  /** the same L1s per task (when the held-out data has more than one task) */
  perTask?: Record<string, { l1: number; last: number; linefit: number; windows: number }>;
}

const BUCKETS: [number, number][] = [
  [1, 1],
  [2, 5],
  [6, 10],
  [11, 20],
  [21, 40],
];

interface TaskTotals {
  last: number;
  linefit: number;
  count: number;
  windows: number;
}

/** The held-out windows of a run and their baselines (computed once). */
export class Validator {
  readonly samples: Sample[] = [];
  private base: { last: Float64Array; linefit: Float64Array; count: Float64Array } | null = null;
  /** per-task totals of the baselines over all horizons, in the order the held-out samples come */
  private readonly byTask = new Map<string, TaskTotals>();
  /** the held-out samples in batches of one task each (padded to that task's feature slots) */
  private readonly chunks: { task: string; samples: Sample[] }[] = [];

  constructor(
    readonly set: TrajectorySet,
    readonly valIds: readonly number[],
    readonly tc: TrainConfig,
  ) {
    const { ctx, maxHorizon, valWindows } = tc;
    for (const ti of valIds) {
      const n = numWindowStarts(set.trajs[ti], ctx);
      const k = Math.min(valWindows, n);
      const starts = new Set<number>();
      for (let i = 0; i < k; i++) starts.add(k === 1 ? 0 : Math.round((i * (n - 1)) / (k - 1)));
      for (const st of starts) this.samples.push(makeSample(set, ti, st, ctx, maxHorizon));
    }
    if (this.samples.length) {
      const acc = {
        last: new Float64Array(maxHorizon),
        linefit: new Float64Array(maxHorizon),
        count: new Float64Array(maxHorizon),
      };
      for (const s of this.samples) {
        const b = baselineErrors(set, s, ctx, maxHorizon);
        const t = this.taskTotals(set.trajs[s.traj].task);
        for (let h = 0; h < maxHorizon; h++) {
          acc.last[h] += b.last[h];
          acc.linefit[h] += b.linefit[h];
          acc.count[h] += b.count[h];
          t.last += b.last[h];
          t.linefit += b.linefit[h];
          t.count += b.count[h];
        }
        t.windows++;
      }
      this.base = acc;
    }
    for (const [task, mine] of groupByTask(set, this.samples, (x) => x.traj)) {
      for (let i = 0; i < mine.length; i += tc.batch) this.chunks.push({ task, samples: mine.slice(i, i + tc.batch) });
    }
  }

  private taskTotals(task: string): TaskTotals {
    let t = this.byTask.get(task);
    if (!t) this.byTask.set(task, (t = { last: 0, linefit: 0, count: 0, windows: 0 }));
    return t;
  }

  /** The model's L1 on the held-out windows at this step (null without held-out data). */
  run(model: TrainModel, step: number): ValResult | null {
    if (!this.samples.length || !this.base) return null;
    const S = this.tc.maxHorizon;
    const err = new Float64Array(S);
    const taskErr = new Map<string, number>();
    for (const { task, samples: chunk } of this.chunks) {
      const b = assembleBatch(this.set, chunk, batchFeat(this.set, chunk), this.tc.ctx, S, model.lpe);
      const e = tf.tidy(() => {
        const pred = model.forward(b);
        const tgt = tf.tensor3d(b.target, [b.E, b.F, b.horizons]);
        const mask = tf.tensor3d(b.mask, [b.E, b.F, b.horizons]);
        return tf.sum(tf.mul(tf.abs(tf.sub(pred, tgt)), mask), [0, 1]);
      });
      const v = e.dataSync();
      e.dispose();
      for (let h = 0; h < b.horizons; h++) {
        err[h] += v[h];
        taskErr.set(task, (taskErr.get(task) ?? 0) + v[h]);
      }
    }
    const { last, linefit, count } = this.base;
    const sum = (a: Float64Array, lo = 1, hi = S) => {
      let s = 0;
      for (let h = lo; h <= Math.min(hi, S); h++) s += a[h - 1];
      return s;
    };
    const n = Math.max(1, sum(count));
    const buckets: ValBucket[] = [];
    for (const [lo, hi] of BUCKETS) {
      if (lo > S) break;
      const c = sum(count, lo, hi);
      if (c === 0) continue;
      buckets.push({
        h: lo === hi ? `${lo}` : `${lo}-${Math.min(hi, S)}`,
        l1: sum(err, lo, hi) / c,
        last: sum(last, lo, hi) / c,
        linefit: sum(linefit, lo, hi) / c,
      });
    }
    const l1 = sum(err) / n;
    const r: ValResult = {
      step,
      l1,
      last: sum(last) / n,
      linefit: sum(linefit) / n,
      beatsLinefit: l1 < sum(linefit) / n,
      beatsLast: l1 < sum(last) / n,
      buckets,
      windows: this.samples.length,
    };
    if (this.byTask.size > 1) {
      r.perTask = {};
      for (const [task, t] of this.byTask) {
        const c = Math.max(1, t.count);
        r.perTask[task] = {
          l1: (taskErr.get(task) ?? 0) / c,
          last: t.last / c,
          linefit: t.linefit / c,
          windows: t.windows,
        };
      }
    }
    return r;
  }
}

/** `val l1 0.1234 | last 0.2 | linefit 0.3 | beats linefit: yes | beats last: yes` */
export function formatValSummary(v: ValResult): string {
  const f = (x: number) => x.toFixed(4);
  return `val l1 ${f(v.l1)} | last ${f(v.last)} | linefit ${f(v.linefit)} | beats linefit: ${v.beatsLinefit ? 'yes' : 'no'} | beats last: ${v.beatsLast ? 'yes' : 'no'}`;
}

/** the summary, then `| per horizon (model/last/linefit): h1 a/b/c ...` [`| per task (model/last/linefit): ...`] */
export function formatVal(v: ValResult): string {
  const f = (x: number) => x.toFixed(4);
  const b = v.buckets.map((x) => `h${x.h} ${f(x.l1)}/${f(x.last)}/${f(x.linefit)}`).join(' ');
  return (
    `${formatValSummary(v)} | per horizon (model/last/linefit): ${b}` +
    (v.perTask
      ? ` | per task (model/last/linefit): ${Object.entries(v.perTask)
          .map(([k, x]) => `${k} ${f(x.l1)}/${f(x.last)}/${f(x.linefit)}`)
          .join(' ')}`
      : '')
  );
}
