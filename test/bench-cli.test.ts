/**
 * `nino bench` input checks: every nowcaster, task, seed and option is validated before a backend
 * starts, a folder is made or a run is trained (library and real CLI), and a seed given twice is an
 * error rather than a second "paired" seed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BenchInputError, runBench, validateBench } from '../src/bench/bench.ts';
import { validateSuite, type Suite } from '../src/bench/suite.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const suite = (nowcasters: string[], seeds = [1], task = 'FM-16-3k'): Suite => ({
  name: 't',
  nowcasters,
  tasks: [{ task, seeds }],
});

describe('bench input checks', () => {
  it('rejects bad nowcasters, duplicate methods and seeds, and bad options up front', () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-bench-val-'));
    const garbage = join(d, 'garbage.safetensors');
    writeFileSync(garbage, 'not a checkpoint');
    expect(() => validateBench(suite(['nope']))).toThrow(/--nowcaster 'nope': nowcaster 'nope' is neither/);
    expect(() => validateBench(suite(['official:no_such']))).toThrow(
      /--nowcaster 'official:no_such': official checkpoint 'no_such' not found/,
    );
    expect(() => validateBench(suite([garbage]))).toThrow(new RegExp(`--nowcaster '${garbage}'`));
    expect(() => validateBench(suite(['linefit', 'linefit']))).toThrow(/same label 'linefit'/);
    expect(() => validateBench(suite(['linefit'], [1, 1]))).toThrow(/FM-16-3k: seed 1 is given twice/);
    expect(() => validateBench(suite(['linefit'], [2 ** 32 + 1]))).toThrow(/seed 4294967297 is out of range/);
    expect(() => validateBench(suite(['linefit'], [1], 'NOPE'))).toThrow(/unknown task 'NOPE'/);
    expect(() =>
      validateBench({ ...suite(['linefit']), tasks: [{ task: 'FM-16-3k', seeds: [1], budget: 0 }] }),
    ).toThrow(/budget must be a positive integer/);
    expect(() => validateBench(suite(['linefit', 'official:nino_no_posw']))).not.toThrow();
    // NiNo takes 5 states per period: a period that does not divide fails before the Adam baseline runs
    expect(() =>
      validateBench({ ...suite(['linefit']), tasks: [{ task: 'FM-16-3k', seeds: [1], period: 302 }] }),
    ).toThrow(/period 302 does not divide into 5 states.*e\.g\. 300/);
    expect(() => validateBench({ ...suite([]), tasks: [{ task: 'FM-16-3k', seeds: [1], period: 302 }] })).not.toThrow();
    // rendering stored runs (--report-only) needs the labels, not the checkpoints
    expect(() => validateBench(suite(['gone/ckpt.safetensors']), { reportOnly: true })).not.toThrow();
    expect(() => validateBench(suite(['linefit', 'linefit']), { reportOnly: true })).toThrow(/same label/);
    expect(() =>
      validateSuite({ name: 'x', nowcasters: [], tasks: [{ task: 'FM-16-3k', seeds: [3, 1, 3] }] }, 's.json'),
    ).toThrow(/seed 3 is given twice/);
    expect(() =>
      validateSuite({ name: 'x', nowcasters: [], tasks: [{ task: 'FM-16-3k', seeds: [-1] }] }, 's.json'),
    ).toThrow(/integers 0\.\.4294967295/);
  });

  it('runBench checks before it makes the output folder or trains anything', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nino-bench-val-')), 'out');
    await expect(runBench(suite(['nope']), { outDir: out, workers: 1, backend: 'cpu' })).rejects.toThrow(
      BenchInputError,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('the CLI fails on a bad --nowcaster with a real task before any training and leaves no --out', () => {
    const root = mkdtempSync(join(tmpdir(), 'nino-bench-cli-'));
    // an empty data folder: had Adam started, the run would fail on the missing dataset instead
    const data = join(root, 'empty');
    spawnSync('mkdir', [data]);
    const out = join(root, 'out');
    const r = spawnSync(
      BIN,
      [
        '--backend',
        'wasm',
        '--no-progress',
        'bench',
        '--task',
        'FM-16-3k',
        '--seeds',
        '1',
        '--budget',
        '6',
        '--nowcaster',
        'no-such.safetensors',
        '--data-dir',
        data,
        '--out',
        out,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, NINO_OFFLINE: '1' },
      },
    );
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /nino: error: --nowcaster 'no-such\.safetensors': nowcaster 'no-such\.safetensors' is neither/,
    );
    expect(r.stderr).not.toMatch(/bench starting|dataset/);
    expect(existsSync(out)).toBe(false);
    const dup = spawnSync(
      BIN,
      [
        '--backend',
        'wasm',
        '--no-progress',
        'bench',
        '--task',
        'FM-16-3k',
        '--seeds',
        '1000,1000',
        '--nowcaster',
        'linefit',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    expect(dup.status).toBe(2);
    expect(dup.stderr).toMatch(/seed 1000 is given twice/);
    expect(existsSync(out)).toBe(false);
  });
});
