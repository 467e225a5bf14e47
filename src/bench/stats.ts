/**
 * Statistics for steps-to-target benchmarks (speedrun rules: fixed target, steps counted, several
 * seeds, paired comparison, a confidence interval).
 *
 * Speedup of a method on seed s = AdamSteps_s / MethodSteps_s (same init and data order). A run that
 * never reaches the target is censored at the budget: its steps count as the budget (so a censored
 * method's speedup is an upper bound, a censored Adam's a lower bound) and the censoring is reported.
 * The interval is a t-interval on the mean of log speedups over paired seeds, exponentiated
 * (a geometric-mean speedup with a 95% interval).
 *
 *   pairedSpeedup([2375, 2250], [1025, 1000]) -> { geoMean: 2.29, lo: 1.9, hi: 2.8, n: 2 }
 */

/** two-sided 95% Student t quantiles (t_{0.975, df}) for df = 1..30; larger df use 1.96 + small correction */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function t975(df: number): number {
  if (df < 1) return NaN;
  if (df <= 30) return T975[df - 1];
  return 1.96 + 2.4 / df; // within 0.3% of the exact quantile for df > 30
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** sample standard deviation (n-1) */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

export interface SpeedupStats {
  /** geometric mean of per-seed speedups */
  geoMean: number;
  /** 95% interval (NaN when fewer than 2 pairs) */
  lo: number;
  hi: number;
  n: number;
  perSeed: number[];
}

/** Paired speedup of `method` over `baseline` (steps per seed, same order; censored runs at the budget). */
export function pairedSpeedup(baselineSteps: readonly number[], methodSteps: readonly number[]): SpeedupStats {
  if (baselineSteps.length !== methodSteps.length)
    throw new Error('paired speedup needs the same seeds for both methods');
  const perSeed = baselineSteps.map((b, i) => b / methodSteps[i]);
  const logs = perSeed.map(Math.log);
  const n = logs.length;
  const m = mean(logs);
  if (n < 2) return { geoMean: Math.exp(m), lo: NaN, hi: NaN, n, perSeed };
  const half = (t975(n - 1) * std(logs)) / Math.sqrt(n);
  return { geoMean: Math.exp(m), lo: Math.exp(m - half), hi: Math.exp(m + half), n, perSeed };
}

/** First evaluated step whose metric reaches the target, or null. Curves are [step, metric] in step order. */
export function stepsToTarget(
  curve: readonly [number, number][],
  target: number,
  higherIsBetter: boolean,
): number | null {
  for (const [s, v] of curve) if (higherIsBetter ? v >= target : v <= target) return s;
  return null;
}
