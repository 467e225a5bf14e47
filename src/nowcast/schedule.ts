/**
 * The NiNo horizon schedule and state-taking rule, exactly as the official `optim/nino.py`:
 *   kSchedule = round(linspace(maxHorizon^(1/p), 1, max(1, maxTrainSteps // period)) ^ p)
 *   k(stepIdx) = kSchedule[min(len-1, stepIdx // period)]
 *   a state is taken before step `stepIdx` when (stepIdx + 1) % (period // ctx) == 0; the step that
 *   completes ctx states is a nowcast instead of a base-optimizer step.
 * With period 1000 and ctx 5, nowcasts happen at stepIdx 999, 1999, ... with k = 40, 33, 26, ...
 *
 *   horizonSchedule({ maxTrainSteps: 10000, period: 1000 }) -> [40, 33, 26, 21, 16, 11, 8, 5, 3, 1]
 */
export interface ScheduleOptions {
  maxTrainSteps: number;
  period: number;
  /** horizon decay power (official: 2) */
  p?: number;
  /** largest horizon, the DMS head's length (official: 40) */
  maxHorizon?: number;
}

/** numpy-compatible round half to even */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function horizonSchedule(o: ScheduleOptions): number[] {
  const p = o.p ?? 2;
  const maxHorizon = o.maxHorizon ?? 40;
  const num = Math.max(1, Math.floor(o.maxTrainSteps / o.period));
  const a = maxHorizon ** (1 / p);
  const out: number[] = [];
  for (let i = 0; i < num; i++) {
    // numpy linspace: start + i*step, with the last point exactly `stop`
    const v = num === 1 ? a : i === num - 1 ? 1 : a + (i * (1 - a)) / (num - 1);
    out.push(roundHalfEven(v ** p));
  }
  return out;
}

export function horizonAt(schedule: readonly number[], stepIdx: number, period: number): number {
  return schedule[Math.min(schedule.length - 1, Math.floor(stepIdx / period))];
}

/** Steps between two recorded states: period // ctx. */
export function stateInterval(period: number, ctx: number): number {
  const e = Math.floor(period / ctx);
  if (e < 1) throw new Error(`period (${period}) must be at least ctx (${ctx})`);
  return e;
}

/** [stepIdx, k] of every nowcast in a run of maxTrainSteps steps (for tests and plans). */
export function nowcastSteps(o: ScheduleOptions & { ctx?: number }): [number, number][] {
  const ctx = o.ctx ?? 5;
  const every = stateInterval(o.period, ctx);
  const sched = horizonSchedule(o);
  const out: [number, number][] = [];
  let n = 0;
  for (let s = 0; s < o.maxTrainSteps; s++) {
    if (n === ctx) n = 0;
    if ((s + 1) % every === 0) n++;
    if (n === ctx) out.push([s, horizonAt(sched, s, o.period)]);
  }
  return out;
}
