/**
 * Bench reports: per-task summary rows (steps to target per method over seeds, paired speedup with a
 * 95% interval, reached n/N, final metric, wall time and the share spent nowcasting), rendered as a
 * Markdown table, JSON, CSV (every run's curve) and an SVG plot per task (metric vs steps, mean and
 * min-max band per method).
 */
import type { BenchRunResult } from './run.ts';
import { mean, pairedSpeedup, std, type SpeedupStats } from './stats.ts';

export interface SummaryRow {
  task: string;
  method: string;
  target: string;
  seeds: number[];
  /** steps to target per seed, censored runs at the budget */
  steps: number[];
  /** per seed: true when the run never reached the target (steps = budget) */
  censored: boolean[];
  reached: number;
  n: number;
  stepsMean: number;
  stepsStd: number;
  /** vs Adam on the same seeds (null for Adam itself) */
  speedup: SpeedupStats | null;
  finalMetric: number;
  wallSeconds: number;
  nowcastShare: number;
}

export function summarize(
  runs: readonly BenchRunResult[],
  tasks: { name: string; budget: number; target: string }[],
  baseline = 'adam',
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const t of tasks) {
    const forTask = runs.filter((r) => r.task === t.name);
    const methods = [...new Set(forTask.map((r) => r.method))].sort((a, b) =>
      a === baseline ? -1 : b === baseline ? 1 : 0,
    );
    const base = new Map(forTask.filter((r) => r.method === baseline).map((r) => [r.seed, r]));
    for (const m of methods) {
      const rs = forTask.filter((r) => r.method === m).sort((a, b) => a.seed - b.seed);
      const steps = rs.map((r) => r.stepsToTarget ?? t.budget);
      let speedup: SpeedupStats | null = null;
      if (m !== baseline) {
        const paired = rs.filter((r) => base.has(r.seed));
        if (paired.length) {
          speedup = pairedSpeedup(
            paired.map((r) => base.get(r.seed)!.stepsToTarget ?? t.budget),
            paired.map((r) => r.stepsToTarget ?? t.budget),
          );
        }
      }
      const wall = rs.reduce((a, r) => a + r.wallSeconds, 0);
      rows.push({
        task: t.name,
        method: m,
        target: t.target,
        seeds: rs.map((r) => r.seed),
        steps,
        censored: rs.map((r) => r.stepsToTarget === null),
        reached: rs.filter((r) => r.stepsToTarget !== null).length,
        n: rs.length,
        stepsMean: mean(steps),
        stepsStd: std(steps),
        speedup,
        finalMetric: mean(rs.map((r) => r.finalMetric)),
        wallSeconds: wall,
        nowcastShare: wall > 0 ? rs.reduce((a, r) => a + r.nowcastSeconds, 0) / wall : 0,
      });
    }
  }
  return rows;
}

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');

export function markdownTable(rows: readonly SummaryRow[]): string {
  const head = [
    'task',
    'target',
    'method',
    'steps to target (mean ± sd)',
    'per seed',
    'reached',
    'speedup vs Adam [95% CI]',
    'final',
    'wall s',
    'nowcast %',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const sp = r.speedup
      ? `${f(r.speedup.geoMean, 2)}x [${f(r.speedup.lo, 2)}, ${f(r.speedup.hi, 2)}]`
      : '1.00x (baseline)';
    lines.push(
      `| ${r.task} | ${r.target} | ${r.method} | ${f(r.stepsMean)} ± ${f(r.stepsStd)} | ${r.steps.map((s, i) => (r.censored[i] ? `>${s}` : `${s}`)).join(', ')} | ${r.reached}/${r.n} | ${sp} | ${f(r.finalMetric, 2)} | ${f(r.wallSeconds)} | ${f(100 * r.nowcastShare, 1)} |`,
    );
  }
  return lines.join('\n');
}

export function curvesCsv(runs: readonly BenchRunResult[]): string {
  const out = ['task,method,seed,step,metric'];
  for (const r of runs) for (const [s, m] of r.curve) out.push(`${r.task},${r.method},${r.seed},${s},${m}`);
  return out.join('\n') + '\n';
}

const COLORS = ['#444444', '#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** SVG line plot of the metric vs steps for one task: mean over seeds per method with a min-max band. */
export function taskSvg(task: string, runs: readonly BenchRunResult[], target: number, metricName: string): string {
  const W = 720;
  const H = 420;
  const m = { l: 60, r: 150, t: 36, b: 44 };
  const methods = [...new Set(runs.map((r) => r.method))];
  const allSteps = runs.flatMap((r) => r.curve.map((c) => c[0]));
  const allVals = runs.flatMap((r) => r.curve.map((c) => c[1])).filter(Number.isFinite);
  const maxStep = Math.max(1, ...allSteps);
  const higher = metricName === 'acc';
  // focus the y-range on the interesting part: from the 10th percentile to the best value
  const sorted = [...allVals].sort((a, b) => a - b);
  let lo = sorted[Math.floor(sorted.length * (higher ? 0.1 : 0))] ?? 0;
  let hi = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * (higher ? 1 : 0.9)))] ?? 1;
  lo = Math.min(lo, target);
  hi = Math.max(hi, target);
  if (hi <= lo) hi = lo + 1;
  const x = (s: number) => m.l + ((W - m.l - m.r) * s) / maxStep;
  const y = (v: number) => m.t + (H - m.t - m.b) * (1 - (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="20" font-size="14" font-weight="bold">${task}: ${metricName} vs steps (mean over seeds, band = min..max)</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = lo + ((hi - lo) * i) / 5;
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(higher ? 1 : 2)}</text>`);
    const s = (maxStep * i) / 5;
    parts.push(`<text x="${x(s)}" y="${H - m.b + 16}" text-anchor="middle">${Math.round(s)}</text>`);
  }
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle">optimizer steps</text>`);
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${y(target)}" y2="${y(target)}" stroke="#999" stroke-dasharray="5,4"/>`,
  );
  parts.push(`<text x="${W - m.r + 4}" y="${y(target) + 4}" fill="#777">target ${target}</text>`);
  methods.forEach((meth, mi) => {
    const color = COLORS[mi % COLORS.length];
    const rs = runs.filter((r) => r.method === meth);
    const steps = [...new Set(rs.flatMap((r) => r.curve.map((c) => c[0])))].sort((a, b) => a - b);
    const stats = steps
      .map((s) => {
        const vals = rs
          .map((r) => r.curve.find((c) => c[0] === s)?.[1])
          .filter((v): v is number => v !== undefined && Number.isFinite(v));
        return { s, mean: mean(vals), min: Math.min(...vals), max: Math.max(...vals), n: vals.length };
      })
      .filter((p) => p.n > 0);
    if (!stats.length) return;
    const band = [
      ...stats.map((p) => `${x(p.s)},${y(p.max)}`),
      ...stats.reverse().map((p) => `${x(p.s)},${y(p.min)}`),
    ].join(' ');
    stats.reverse();
    parts.push(`<polygon points="${band}" fill="${color}" fill-opacity="0.15" stroke="none"/>`);
    parts.push(
      `<polyline points="${stats.map((p) => `${x(p.s)},${y(p.mean)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(
      `<line x1="${W - m.r + 8}" x2="${W - m.r + 28}" y1="${m.t + 20 + mi * 18}" y2="${m.t + 20 + mi * 18}" stroke="${color}" stroke-width="3"/>`,
    );
    parts.push(`<text x="${W - m.r + 32}" y="${m.t + 24 + mi * 18}">${meth}</text>`);
  });
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}
