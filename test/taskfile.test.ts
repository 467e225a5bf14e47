/**
 * Task files in-process: every built-in round-trips through the task file format (and through
 * `nino tasks --show | nino tasks --check -`), the schema states every default and its validator names
 * paths, defaults are applied from the schema, cross-field checks, a CSV task trains, and a target override
 * changes the bench run key.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runKey, type BenchRunSpec } from '../src/bench/run.ts';
import { ADAM } from '../src/methods/registry.ts';
import { initBackend } from '../src/core/backend.ts';
import { getTask, listTasks, withTarget } from '../src/tasks/registry.ts';
import { loadTaskRuntime } from '../src/tasks/runtime.ts';
import { type JsonSchema, validateJson } from '../src/tasks/schema.ts';
import { loadTaskFile, parseTaskFile, TASK_SCHEMA_PATH, taskSchema, taskToFile } from '../src/tasks/taskfile.ts';

const BIN = join(__dirname, '..', 'bin', 'nino');
const parse = (raw: unknown) => parseTaskFile(raw, { source: 't.json', baseDir: tmpdir() });

describe('task file format', () => {
  it('every built-in task round-trips to the same resolved definition', () => {
    expect(listTasks().length).toBeGreaterThanOrEqual(13);
    for (const t of listTasks()) {
      const file = JSON.parse(JSON.stringify(taskToFile(t)));
      expect(validateJson(taskSchema(), file), t.name).toEqual([]);
      expect(parse(file), t.name).toEqual(t);
    }
  });

  it('nino tasks --show NAME | nino tasks --check - gives the built-in definition', () => {
    for (const name of ['FM-16-3k', 'SOTU-2-32', 'C100-32']) {
      const show = spawnSync(BIN, ['tasks', '--show', name], { encoding: 'utf8' });
      expect(show.status, show.stderr).toBe(0);
      const check = spawnSync(BIN, ['tasks', '--check', '-'], { encoding: 'utf8', input: show.stdout });
      expect(check.status, check.stderr).toBe(0);
      expect(JSON.parse(check.stdout)).toEqual(getTask(name));
    }
  });

  it('the published schema describes every field and states every default', () => {
    const seen: string[] = [];
    const walk = (s: JsonSchema, path: string) => {
      if (path) expect(s.description, `${path} has a description`).toBeTruthy();
      if (s.default !== undefined) {
        expect(s.description, path).toMatch(/Default: /);
        seen.push(path);
      }
      for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, `${path}.${k}`);
      for (const b of s.oneOf ?? []) walk(b, `${path}|${b.properties?.family?.const ?? b.properties?.format?.const}`);
    };
    walk(JSON.parse(readFileSync(TASK_SCHEMA_PATH, 'utf8')), '');
    expect(seen.length).toBeGreaterThanOrEqual(8);
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    expect(pkg.files).toContain('schemas');
  });

  const base = () => JSON.parse(JSON.stringify(taskToFile(getTask('FM-16-3k'))));

  it('applies the schema defaults and names problems by path', () => {
    const f = base();
    delete f.description;
    delete f.optimizer.weightDecay;
    delete f.paper;
    const s = parse(f);
    expect([s.description, s.weightDecay, s.paper]).toEqual(['', 0, false]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mutations write deliberately ill-typed task JSON
    const bad = (mut: (f: Record<string, any>) => void) => {
      const g = base();
      mut(g);
      try {
        parse(g);
      } catch (e) {
        expect((e as { exitCode?: number }).exitCode).toBe(2);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad((g) => delete g.target)).toMatch(/^t\.json: missing field 'target'/);
    expect(bad((g) => (g.target.metric = 'f1'))).toMatch(
      /^t\.json: target\.metric: must be one of 'acc', 'ppl' \(got 'f1'\)/,
    );
    expect(bad((g) => (g.model.channels = [16, 32]))).toMatch(/model\.channels: needs at least 3 entries/);
    expect(bad((g) => (g.model.chanels = [1]))).toMatch(/model: unknown key 'chanels'/);
    expect(bad((g) => (g.data = { format: 'parquet', path: 'x' }))).toMatch(
      /data\.format: unknown format 'parquet' \(known: 'builtin', 'idx', 'text', 'csv'\)/,
    );
    expect(bad((g) => (g.optimizer.lr = 0))).toMatch(/optimizer\.lr: must be a number > 0/);
    expect(bad((g) => (g.target.metric = 'ppl'))).toMatch(/target\.metric must be 'acc' for a classifier/);
    expect(bad((g) => (g.model.inChannels = 3))).toMatch(/model\.inChannels is 3 but fashion-mnist has 1 channel/);
    expect(bad((g) => (g.data = { format: 'builtin', dataset: 'lm1b' }))).toMatch(
      /needs image data, not dataset 'lm1b'/,
    );
  });

  it('a CSV task loads, standardizes and learns; a target override changes the bench run key', async () => {
    await initBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'nino-csv-'));
    const rows = ['a,label,b'];
    for (let i = 0; i < 200; i++) {
      const a = Math.sin(i * 12.9898) * 10;
      const b = Math.cos(i * 78.233) * 10;
      rows.push(`${a},${a + b > 0 ? 1 : 0},${b}`);
    }
    writeFileSync(join(dir, 'pts.csv'), rows.join('\n') + '\n');
    writeFileSync(
      join(dir, 'task.json'),
      JSON.stringify({
        name: 'PTS',
        model: { family: 'mlp', inputs: 2, hidden: [8], classes: 2 },
        data: { format: 'csv', path: 'pts.csv' },
        optimizer: { lr: 0.05, batchSize: 16 },
        budget: 100,
        period: 50,
        evalEvery: 10,
        target: { metric: 'acc', value: 90 },
      }),
    );
    const spec = loadTaskFile(join(dir, 'task.json'));
    expect(spec.files).toEqual({
      format: 'csv',
      path: join(dir, 'pts.csv'),
      labelColumn: 'label',
      testFraction: 0.2,
      standardize: true,
    });
    const rt = await loadTaskRuntime(spec);
    const params = rt.initVariables(1);
    const before = rt.evaluate(params).acc!;
    const { AdamW } = await import('../src/optim/adamw.ts');
    const opt = new AdamW({ lr: spec.lr, weightDecay: 0 });
    const sampler = rt.makeSampler(1);
    const tf = await import('@tensorflow/tfjs');
    for (let s = 0; s < 100; s++) {
      const b = sampler.next();
      const { grads } = tf.variableGrads(() => rt.model.loss(params, b), params);
      opt.step(
        params,
        params.map((p) => grads[p.name]),
      );
      tf.dispose([b.x, b.y, ...Object.values(grads)]);
    }
    expect(rt.evaluate(params).acc!).toBeGreaterThan(Math.max(85, before));
    const run = (taskDef: typeof spec): BenchRunSpec => ({
      task: 'PTS',
      taskDef,
      seed: 1,
      method: 'adam',
      optimizer: ADAM,
      budget: 10,
      evalEvery: 5,
      stopAtTarget: true,
      outDir: dir,
      cacheDir: dir,
    });
    expect(runKey(run(withTarget(spec, 60)))).not.toBe(runKey(run(spec)));
    expect(runKey(run(withTarget(spec, 90)))).toBe(runKey(run(spec)));
  });
});

describe('task file names', () => {
  it('a file may reuse a built-in name only with the same definition', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nino-tfname-'));
    const same = join(dir, 'same.json');
    writeFileSync(same, JSON.stringify(taskToFile(getTask('FM-8-3k'))));
    expect(getTask(same)).toEqual(getTask('FM-8-3k'));
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ ...taskToFile(getTask('FM-8-3k')), budget: 10 }));
    expect(() => getTask(other)).toThrow(
      /name 'FM-8-3k' is a built-in task with another definition; give your task its own name/,
    );
    expect(() => getTask(join(dir, 'none.json'))).toThrow(/task file '.*none\.json' does not exist/);
  });
});
