/** bench: summaries (censoring, pairing), report formats, Adam cache reuse and invalidation. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runBench } from '../src/bench/bench.ts';
import { curvesCsv, markdownTable, summarize, taskSvg } from '../src/bench/report.ts';
import {
  benchRun,
  clearNowcasterVersions,
  runKey,
  runLockPath,
  runResultPath,
  type BenchRunResult,
  type BenchRunSpec,
} from '../src/bench/run.ts';
import { tryAcquireLock } from '../src/core/lock.ts';
import { ADAM, ninoMethod } from '../src/methods/registry.ts';
import { validateSuite } from '../src/bench/suite.ts';
import { initBackend } from '../src/core/backend.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

function run(method: string, seed: number, reachedAt: number | null, budget = 100): BenchRunResult {
  const curve: [number, number][] = [];
  for (let s = 0; s <= (reachedAt ?? budget); s += 25)
    curve.push([s, reachedAt !== null && s >= reachedAt ? 90 : 50 + s / 10]);
  return {
    task: 'FM-16-3k',
    seed,
    method,
    curve,
    stepsToTarget: reachedAt,
    finalMetric: curve[curve.length - 1][1],
    stepsRun: curve[curve.length - 1][0],
    wallSeconds: 10,
    nowcastSeconds: method === 'adam' ? 0 : 1,
    nowcasts: [],
    fromCache: false,
    key: 'k',
  };
}

describe('bench summaries and reports', () => {
  const runs = [run('adam', 1, 100), run('adam', 2, null), run('nino', 1, 50), run('nino', 2, 75)];
  const rows = summarize(runs, [{ name: 'FM-16-3k', budget: 100, target: 'acc ≥ 85' }]);

  it('censors runs that never reach the target at the budget and pairs seeds', () => {
    const adam = rows.find((r) => r.method === 'adam')!;
    const nino = rows.find((r) => r.method === 'nino')!;
    expect(adam.steps).toEqual([100, 100]);
    expect(adam.censored).toEqual([false, true]);
    expect(adam.reached).toBe(1);
    expect(nino.speedup!.perSeed).toEqual([2, 100 / 75]);
    // geometric mean of 2 and 4/3 = sqrt(8/3)
    expect(nino.speedup!.geoMean).toBeCloseTo(Math.sqrt(8 / 3), 10);
    expect(nino.nowcastShare).toBeCloseTo(0.1, 10);
    expect(rows[0].method).toBe('adam');
  });

  it('renders Markdown, CSV and SVG', () => {
    const md = markdownTable(rows);
    expect(md.split('\n')[0]).toMatch(/^\| task \| target \| method \| steps to target/);
    expect(md).toMatch(/\| FM-16-3k \| acc ≥ 85 \| adam \| 100 ± 0 \| 100, >100 \| 1\/2 \| 1\.00x \(baseline\)/);
    expect(md).toMatch(/\| nino \| 63 ± 18 \| 50, 75 \| 2\/2 \| 1\.63x \[/);
    const csv = curvesCsv(runs).trim().split('\n');
    expect(csv[0]).toBe('task,method,seed,step,metric');
    expect(csv.length).toBe(1 + runs.reduce((a, r) => a + r.curve.length, 0));
    const svg = taskSvg('FM-16-3k', runs, 85, 'acc');
    expect(svg.startsWith('<svg')).toBe(true);
    expect((svg.match(/<polyline/g) ?? []).length).toBe(2);
    expect(svg).toContain('target 85');
  });

  it('rejects suites with unknown keys or tasks', () => {
    expect(() =>
      validateSuite(
        { name: 'x', nowcasters: [], tasks: [{ task: 'FM-16-3k', seeds: [1] }], stopAtTargt: true },
        's.json',
      ),
    ).toThrow(/unknown key 'stopAtTargt'/);
    expect(() =>
      validateSuite({ name: 'x', nowcasters: [], tasks: [{ task: 'FM-99', seeds: [1] }] }, 's.json'),
    ).toThrow(/unknown task 'FM-99'/);
    expect(() =>
      validateSuite({ name: 'x', nowcasters: [], tasks: [{ task: 'FM-16-3k', seeds: [] }] }, 's.json'),
    ).toThrow(/seeds/);
  });
});

describe('bench runs and the Adam cache', () => {
  let dataDir = '';
  beforeAll(async () => {
    await initBackend('wasm');
    dataDir = writeFakeFashionMnist(mkdtempSync(join(tmpdir(), 'nino-fm-')));
  });

  it('reuses a cached Adam run, and misses the cache when the budget or seed changes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-bench-'));
    const spec: BenchRunSpec = {
      task: 'FM-16-3k',
      seed: 1,
      method: 'adam',
      optimizer: ADAM,
      budget: 6,
      evalEvery: 3,
      stopAtTarget: false,
      outDir: join(root, 'a'),
      cacheDir: join(root, 'cache'),
      data: { dataDir, evalLimit: 20 },
    };
    const first = await benchRun(spec);
    expect(first.fromCache).toBe(false);
    expect(first.curve.map((c) => c[0])).toEqual([0, 3, 6]);
    // another report folder: the Adam run comes from the cache, identical
    const second = await benchRun({ ...spec, outDir: join(root, 'b') });
    expect(second.fromCache).toBe(true);
    expect(second.curve).toEqual(first.curve);
    // the same folder again: the stored result is reused (resume)
    expect(existsSync(runResultPath(spec))).toBe(true);
    expect(JSON.parse(readFileSync(runResultPath(spec), 'utf8')).key).toBe(first.key);
    // a different budget or seed is a different key
    expect(runKey({ ...spec, budget: 7 })).not.toBe(runKey(spec));
    expect(runKey({ ...spec, seed: 2 })).not.toBe(runKey(spec));
    // a nowcaster run's key follows the checkpoint's bytes (a retrained file of the same name re-runs)
    const ck = join(root, 'ck.safetensors');
    writeFileSync(ck, 'one');
    const ncSpec = { ...spec, method: 'mine', optimizer: ninoMethod({ nowcaster: ck, period: 300 }) };
    const k1 = runKey(ncSpec);
    const p1 = runKey(ncSpec, false);
    writeFileSync(ck, 'two');
    clearNowcasterVersions();
    expect(runKey(ncSpec)).not.toBe(k1);
    expect(runKey(ncSpec, false)).toBe(p1); // --report-only matches stored runs whatever made them
    const third = await benchRun({ ...spec, budget: 3, outDir: join(root, 'c') });
    expect(third.fromCache).toBe(false);
    // a nowcaster run is never served from the Adam cache
    const nc = await benchRun({
      ...spec,
      method: 'linefit',
      optimizer: ninoMethod({ nowcaster: 'linefit', period: 5 }),
      outDir: join(root, 'd'),
    });
    expect(nc.fromCache).toBe(false);
    expect(nc.nowcasts.length).toBe(1);
    // report-only renders from the stored runs without training, and names what is missing
    const suite = {
      name: 't',
      nowcasters: [],
      tasks: [{ task: 'FM-16-3k', seeds: [1], budget: 6, evalEvery: 3, evalLimit: 20 }],
      stopAtTarget: false,
    };
    const rep = await runBench(suite, { outDir: join(root, 'a'), workers: 1, backend: 'wasm', reportOnly: true });
    expect(rep.runs[0].curve).toEqual(first.curve);
    expect(rep.markdown).toMatch(/\| FM-16-3k \| acc ≥ 85 \| adam \|/);
    // a run not stored yet (its shard has not finished) is listed as missing, the rest is reported
    const part = await runBench(
      { ...suite, tasks: [{ ...suite.tasks[0], seeds: [1, 2] }] },
      { outDir: join(root, 'a'), workers: 1, backend: 'wasm', reportOnly: true },
    );
    expect(part.missing).toEqual(['FM-16-3k/adam/seed-2']);
    expect(part.runs.map((r) => r.seed)).toEqual([1]);
    expect(readFileSync(join(root, 'a', 'summary.md'), 'utf8')).toMatch(
      /missing: 1 of 2 runs .*: FM-16-3k\/adam\/seed-2/,
    );
    rmSync(root, { recursive: true, force: true });
  });

  it('a run locked by another bench (a shard on the same --out) is waited for, then reused, not trained again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-bench-lock-'));
    const spec: BenchRunSpec = {
      task: 'FM-16-3k',
      seed: 3,
      method: 'adam',
      optimizer: ADAM,
      budget: 3,
      evalEvery: 3,
      stopAtTarget: false,
      outDir: join(root, 'a'),
      cacheDir: join(root, 'cache-a'),
      data: { dataDir, evalLimit: 20 },
    };
    const made = await benchRun(spec);
    // another folder with its own cache: unlocked, this run would be trained at once
    const shared: BenchRunSpec = { ...spec, outDir: join(root, 'shared'), cacheDir: join(root, 'cache-b') };
    const lock = tryAcquireLock(runLockPath(shared), { what: 'the other shard' });
    if ('busy' in lock) throw new Error('lock not taken');
    let settled = false;
    const p = benchRun(shared).then((r) => ((settled = true), r));
    await new Promise((r) => setTimeout(r, 1500));
    expect(settled).toBe(false);
    // the other shard finishes the run (marked so that its result can be told from a retrained one)
    writeFileSync(runResultPath(shared), JSON.stringify({ ...made, wallSeconds: 12345 }));
    lock.release();
    const got = await p;
    expect(got.wallSeconds).toBe(12345);
    expect(existsSync(join(root, 'cache-b'))).toBe(false);
    expect(existsSync(runLockPath(shared))).toBe(false);
    rmSync(root, { recursive: true, force: true });
  });
});
