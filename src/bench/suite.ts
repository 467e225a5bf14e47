/**
 * Benchmark suites (configs/bench-<name>.json): which tasks, seeds, budgets, eval protocol, NiNo period
 * and nowcasters. Unknown keys are rejected so a typo never silently changes a benchmark.
 *
 *   { "name": "ci", "nowcasters": ["official:nino_no_posw"], "tasks": [{ "task": "FM-16-3k", "seeds": [1000, 2000] }] }
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEED_MAX } from '../core/rng.ts';
import { getTask, isTaskFileRef } from '../tasks/registry.ts';

export interface SuiteTask {
  /** a task name or a task file path (relative paths: to the suite file's folder) */
  task: string;
  seeds: number[];
  /** step budget (default: the task's) */
  budget?: number;
  /** evaluate every n steps (default: the task's) */
  evalEvery?: number;
  /** NiNo period (default: the task's) */
  period?: number;
  /** evaluate on the first n held-out examples only */
  evalLimit?: number;
  /** target value instead of the task's (same metric) */
  targetValue?: number;
}

export interface Suite {
  name: string;
  description?: string;
  /** nowcaster references (see nowcast/resolve.ts); Adam is always included */
  nowcasters: string[];
  tasks: SuiteTask[];
  /** stop runs at the target (default true) */
  stopAtTarget?: boolean;
  /** fail (non-zero exit) when a nowcaster's speedup on a task is below this */
  minSpeedup?: Record<string, number>;
}

const SUITE_KEYS = new Set(['name', 'description', 'nowcasters', 'tasks', 'stopAtTarget', 'minSpeedup', '$comment']);
const TASK_KEYS = new Set(['task', 'seeds', 'budget', 'evalEvery', 'period', 'evalLimit', 'targetValue', '$comment']);

export const CONFIG_DIR = fileURLToPath(new URL('../../configs', import.meta.url));

export function suiteNames(): string[] {
  return readdirSync(CONFIG_DIR)
    .filter((f) => /^bench-.*\.json$/.test(f))
    .map((f) => f.slice(6, -5));
}

export function validateSuite(s: unknown, source: string): Suite {
  const fail = (m: string): never => {
    throw new Error(`${source}: ${m}`);
  };
  if (!s || typeof s !== 'object') fail('not a JSON object');
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!SUITE_KEYS.has(k)) fail(`unknown key '${k}' (allowed: ${[...SUITE_KEYS].join(', ')})`);
  if (typeof o.name !== 'string') fail("'name' must be a string");
  if (!Array.isArray(o.nowcasters) || o.nowcasters.some((x) => typeof x !== 'string'))
    fail("'nowcasters' must be a list of strings");
  if (!Array.isArray(o.tasks) || o.tasks.length === 0) fail("'tasks' must be a non-empty list");
  (o.tasks as Record<string, unknown>[]).forEach((t, i) => {
    for (const k of Object.keys(t))
      if (!TASK_KEYS.has(k)) fail(`tasks[${i}]: unknown key '${k}' (allowed: ${[...TASK_KEYS].join(', ')})`);
    if (typeof t.task !== 'string') fail(`tasks[${i}]: 'task' must be a task name or a task file path`);
    try {
      getTask(t.task as string);
    } catch (e) {
      fail(`tasks[${i}]: ${(e as Error).message}`);
    }
    if (t.targetValue !== undefined && !(typeof t.targetValue === 'number' && Number.isFinite(t.targetValue)))
      fail(`tasks[${i}]: 'targetValue' must be a number`);
    if (
      !Array.isArray(t.seeds) ||
      t.seeds.length === 0 ||
      t.seeds.some((x) => !Number.isInteger(x) || x < 0 || x > SEED_MAX)
    )
      fail(`tasks[${i}]: 'seeds' must be a non-empty list of integers 0..${SEED_MAX}`);
    const dup = (t.seeds as number[]).find((x, j, a) => a.indexOf(x) !== j);
    if (dup !== undefined) fail(`tasks[${i}]: seed ${dup} is given twice`);
    for (const k of ['budget', 'evalEvery', 'period', 'evalLimit'])
      if (t[k] !== undefined && !(Number.isInteger(t[k]) && (t[k] as number) > 0))
        fail(`tasks[${i}]: '${k}' must be a positive integer`);
  });
  return o as unknown as Suite;
}

export function loadSuite(nameOrPath: string): Suite {
  const path = existsSync(nameOrPath) ? nameOrPath : join(CONFIG_DIR, `bench-${nameOrPath}.json`);
  if (!existsSync(path))
    throw new Error(`unknown suite '${nameOrPath}'; known: ${suiteNames().join(', ')} (or pass a JSON file)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
  // task file paths are relative to the suite file
  const base = dirname(resolve(path));
  const o = raw as { tasks?: { task?: unknown }[] };
  if (o && Array.isArray(o.tasks))
    for (const t of o.tasks)
      if (t && typeof t.task === 'string' && isTaskFileRef(t.task) && t.task !== '-' && !isAbsolute(t.task))
        t.task = resolve(base, t.task);
  return validateSuite(raw, path);
}
