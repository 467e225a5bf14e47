/**
 * The method registry (methods/): unknown methods and bad options are InputErrors, collect trains with
 * exactly the task's AdamW, run keys are the ones stored before methods existed; typed worker jobs; and
 * the library's configuration comes from its caller, never from environment variables.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as runModule from '../src/bench/run.ts';
import { benchRunJob, runKey, type BenchRunSpec } from '../src/bench/run.ts';
import { benchMethods } from '../src/bench/bench.ts';
import { readEnv } from '../src/cli/env.ts';
import { initBackend } from '../src/core/backend.ts';
import { InputError } from '../src/core/errors.ts';
import { workerJob } from '../src/core/workers.ts';
import { cacheRoot, downloadAllowed } from '../src/data/fetch.ts';
import { loadFashionMnist } from '../src/data/fashion_mnist.ts';
import { ADAM, getMethod, methodNames, ninoMethod, resolveMethod } from '../src/methods/registry.ts';
import { nowcasterPath } from '../src/nowcast/resolve.ts';
import { AdamW } from '../src/optim/adamw.ts';
import { getTask } from '../src/tasks/registry.ts';
import { makeModel } from '../src/tasks/runtime.ts';
import * as collectModule from '../src/trajectories/collect.ts';
import { collectJob, resolvedConfig } from '../src/trajectories/collect.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

describe('method registry', () => {
  it('rejects an unknown method and bad options with an InputError that says what is known', () => {
    expect(methodNames()).toEqual(expect.arrayContaining(['adam', 'nino']));
    const unknown = (() => {
      try {
        return getMethod('lookahead');
      } catch (e) {
        return e;
      }
    })();
    expect(unknown).toBeInstanceOf(InputError);
    expect((unknown as Error).message).toBe("unknown method 'lookahead'; known methods: adam, nino");
    expect(() => resolveMethod({ name: 'sgd' })).toThrow(InputError);
    expect(() => resolveMethod({ name: 'adam', options: { lr: 1 } })).toThrow(
      /method 'adam' takes no options \(got lr\)/,
    );
    expect(() => resolveMethod({ name: 'nino', options: { period: 300 } })).toThrow(/needs a nowcaster reference/);
    expect(() => resolveMethod(ninoMethod({ nowcaster: 'linefit', period: 0 }))).toThrow(
      /period must be a positive integer/,
    );
    expect(() => resolveMethod({ name: 'nino', options: { nowcaster: 'linefit', period: 5, perod: 5 } })).toThrow(
      /unknown option\(s\) perod/,
    );
    for (const f of [() => resolveMethod({ name: 'sgd' }), () => resolveMethod({ name: 'nino', options: {} })])
      expect(f).toThrow(InputError);
  });

  it("collect's optimizer is the task's AdamW: the stored settings are the optimizer's own, in the stored order", async () => {
    for (const name of ['FM-16-3k', 'SOTU-2-32', 'LM1B-3-24']) {
      const spec = getTask(name);
      const settings = resolvedConfig({ task: name, seed: 1, steps: 10, every: 5, outDir: '/unused' }).optimizer;
      // the task's lr and weight decay, PyTorch's AdamW betas and eps, in the order trajectories stored them
      expect(JSON.stringify(settings)).toBe(
        JSON.stringify({
          kind: 'adamw',
          lr: spec.lr,
          weightDecay: spec.weightDecay,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
        }),
      );
      // and what collect actually trains with says the same
      const opt = await resolveMethod(ADAM).create({ task: spec, model: makeModel(spec), budget: 10 });
      expect(opt).toBeInstanceOf(AdamW);
      const o = (opt as AdamW).opts;
      expect({
        kind: 'adamw',
        lr: o.lr,
        weightDecay: o.weightDecay,
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.eps,
      }).toEqual(settings);
      opt.dispose();
    }
    expect(getTask('LM1B-3-24').weightDecay).not.toBe(getTask('FM-16-3k').weightDecay); // the loop above sees both cases
  });

  it('run keys without the code version are the ones stored before the registry (report-only keeps accepting old runs)', () => {
    const base: BenchRunSpec = {
      task: 'FM-16-3k',
      seed: 1,
      method: 'adam',
      optimizer: ADAM,
      budget: 6,
      evalEvery: 3,
      stopAtTarget: false,
      outDir: '/x',
      cacheDir: '/y',
      data: { evalLimit: 20 },
    };
    // values computed with the code before methods/ existed (nowcaster: null / 'linefit', period 5)
    expect(runKey(base, false)).toBe('2cd1c264ced7cba7ced3');
    expect(
      runKey(
        { ...base, method: 'linefit', optimizer: ninoMethod({ nowcaster: 'linefit', period: 5, nowcastOptions: {} }) },
        false,
      ),
    ).toBe('6a98394ef1e4d14ba15f');
    expect(
      runKey({ ...base, method: 'linefit', optimizer: ninoMethod({ nowcaster: 'linefit', period: 5 }) }, false),
    ).toBe('62c42c8f09bbfe0bcd22');
    // officialDir changes where a checkpoint is found, not the protocol
    expect(
      runKey(
        {
          ...base,
          method: 'linefit',
          optimizer: ninoMethod({ nowcaster: 'linefit', period: 5, officialDir: '/elsewhere' }),
        },
        false,
      ),
    ).toBe('62c42c8f09bbfe0bcd22');
  });

  it('a bench has Adam first, then NiNo per nowcaster, labelled as before', () => {
    const m = benchMethods({ name: 's', nowcasters: ['linefit', 'official:nino_no_posw'], tasks: [] }, 300);
    expect(m.map(([l]) => l)).toEqual(['adam', 'linefit', 'nino_no_posw']);
    expect(m[0][1]).toEqual(ADAM);
    expect(m[2][1]).toEqual({ name: 'nino', options: { nowcaster: 'official:nino_no_posw', period: 300 } });
  });
});

describe('worker jobs', () => {
  it('each job is exported by its module under the function name a worker looks up', () => {
    expect((runModule as Record<string, unknown>)[benchRunJob.name]).toBe(benchRunJob.run);
    expect((collectModule as Record<string, unknown>)[collectJob.name]).toBe(collectJob.run);
    expect(benchRunJob.name).toBe('benchRun');
    expect(benchRunJob.module).toBe(new URL('../src/bench/run.ts', import.meta.url).href);
    const anon = [async (n: number) => n][0];
    expect(() => workerJob(import.meta.url, anon)).toThrow(/needs a name/);
  });
});

describe('configuration comes from the caller', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ['NINO_DATA_DIR', 'NINO_CACHE_DIR', 'NINO_OFFLINE', 'NINO_OFFICIAL_DIR', 'NINO_BACKEND']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('library calls ignore bad environment variables; the CLI reads them into options', async () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-config-'));
    try {
      writeFakeFashionMnist(join(d, 'cache', 'fashion-mnist'), 20, 10);
      process.env.NINO_DATA_DIR = join(d, 'does-not-exist');
      process.env.NINO_CACHE_DIR = join(d, 'bad-cache');
      process.env.NINO_OFFLINE = '1';
      mkdirSync(join(d, 'official'));
      writeFileSync(join(d, 'official', 'nino_no_posw.safetensors'), 'not a checkpoint');
      process.env.NINO_OFFICIAL_DIR = join(d, 'official');
      process.env.NINO_BACKEND = 'no-such-backend';
      const opts = { systemRoot: join(d, 'no-system'), cacheDir: join(d, 'cache'), download: false };
      // with $NINO_DATA_DIR read, this would be a DataDirError for the missing folder
      expect((await loadFashionMnist(opts)).trainY.length).toBe(20);
      expect(cacheRoot({})).toBe(join(homedir(), '.cache', 'nino'));
      expect(downloadAllowed({})).toBe(true);
      expect(nowcasterPath('official:nino_no_posw')).not.toBe(join(d, 'official', 'nino_no_posw.safetensors'));
      expect(nowcasterPath('official:nino_no_posw', { officialDir: join(d, 'official') })).toBe(
        join(d, 'official', 'nino_no_posw.safetensors'),
      );
      await initBackend('cpu');
      await expect(initBackend()).resolves.toMatchObject({ name: 'cpu' }); // $NINO_BACKEND would throw
      // the CLI side: the same variables become the options
      expect(readEnv()).toEqual({
        source: { dataDirFromEnv: join(d, 'does-not-exist'), cacheDir: join(d, 'bad-cache'), download: false },
        officialDir: join(d, 'official'),
      });
      const viaCli = await loadFashionMnist({ ...readEnv().source, systemRoot: join(d, 'no-system') }).catch((e) => e);
      expect((viaCli as Error).message).toMatch(/^\$NINO_DATA_DIR '.*does-not-exist' does not exist/);
      expect(readEnv({ NINO_OFFLINE: '0', NINO_DATA_DIR: '' })).toEqual({ source: {} });
      expect(readEnv({ NINO_OFFLINE: 'false' }).source.download).toBeUndefined();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('verified jumps as their own bench method', () => {
  it('--check-jumps adds "<nowcaster>+check" after each nowcaster, with its own cache key', () => {
    const suite = { name: 't', tasks: [{ task: 'FM-16-3k', seeds: [1000] }], nowcasters: ['linefit'] };
    expect(benchMethods(suite as never, 300).map(([l]) => l)).toEqual(['adam', 'linefit']);
    const m = benchMethods(suite as never, 300, { checkJumps: true });
    expect(m.map(([l]) => l)).toEqual(['adam', 'linefit', 'linefit+check']);
    const plain = resolveMethod(m[1][1]);
    const checked = resolveMethod(m[2][1]);
    expect(JSON.stringify(checked.key(false))).not.toEqual(JSON.stringify(plain.key(false)));
    // the plain method's key is what it was before checked jumps existed
    expect(plain.key(false)).toEqual({ nowcaster: 'linefit', period: 300, options: null });
    expect(() => resolveMethod(ninoMethod({ nowcaster: 'linefit', period: 300, checkJumps: 'yes' as never }))).toThrow(
      /checkJumps/,
    );
  });

  it('--jump-lookahead adds "<nowcaster>+lookahead<L>", keyed by L, and refuses an L not shorter than the period', () => {
    const suite = { name: 't', tasks: [{ task: 'FM-16-3k', seeds: [1000] }], nowcasters: ['linefit'] };
    const m = benchMethods(suite as never, 300, { checkJumps: true, lookahead: 60 });
    expect(m.map(([l]) => l)).toEqual(['adam', 'linefit', 'linefit+check', 'linefit+lookahead60']);
    expect(resolveMethod(m[3][1]).key(false)).toEqual({
      nowcaster: 'linefit',
      period: 300,
      options: null,
      lookahead: 60,
    });
    expect(() => resolveMethod(ninoMethod({ nowcaster: 'linefit', period: 300, lookahead: 300 }))).toThrow(
      /lookahead must be a whole number of steps in 1\.\.299/,
    );
    expect(() =>
      resolveMethod(ninoMethod({ nowcaster: 'linefit', period: 300, lookahead: 60, checkJumps: true })),
    ).toThrow(/choose one/);
  });

  it('a checked NiNo needs the task runtime (a method context without one is refused)', async () => {
    await initBackend('wasm');
    const task = getTask('FM-16-3k');
    const method = resolveMethod(ninoMethod({ nowcaster: 'linefit', period: 300, checkJumps: true }));
    await expect(method.create({ task, model: makeModel(task), budget: 3000 })).rejects.toThrow(/runtime/);
  });
});
