/**
 * Task files: a task as JSON (schemas/task.schema.json, the single source of the rules), so a user's own
 * model and data need no TypeScript. `parseTaskFile` validates a file against the schema (unknown keys,
 * missing fields and wrong types named with their JSON path), fills in the schema's defaults, checks what
 * a schema cannot (family vs data vs metric), and resolves it to the TaskSpec every command runs;
 * `taskToFile` writes any TaskSpec (the built-ins) back in the file format, and the two round-trip.
 *
 *   const spec = loadTaskFile('./tasks/my-mlp.json');       // TaskSpec (data paths made absolute)
 * A `"family": "tfjs"` model (a saved model.json) is read and checked here too (tasks/models/tfjs-resolve.ts) and
 * stored resolved: absolute path, layer description, SHA-256 of its files.
 *   process.stdout.write(JSON.stringify(taskToFile(getTask('FM-16')), null, 2));
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.ts';
import { locateIdxFolder, textFolderFiles } from '../data/files.ts';
import { resolveTfjsModel, TfjsModelError, type TfjsInit } from './models/tfjs-resolve.ts';
import type { DatasetName, FileData, ModelArgs, TaskSpec, TfjsModelArgs } from './registry.ts';
import { applyDefaults, validateJson, type JsonSchema } from './schema.ts';

export const TASK_SCHEMA_PATH = fileURLToPath(new URL('../../schemas/task.schema.json', import.meta.url));
let schema: JsonSchema | null = null;
export function taskSchema(): JsonSchema {
  return (schema ??= JSON.parse(readFileSync(TASK_SCHEMA_PATH, 'utf8')) as JsonSchema);
}

/** The task file format (what the schema describes), after defaults. */
export interface TaskFile {
  name: string;
  description: string;
  paper: boolean;
  inDistribution: boolean;
  model:
    | { family: 'convnet'; channels: number[]; inChannels: number; classes: number }
    | { family: 'mlp'; inputs: number; hidden: number[]; classes: number }
    | { family: 'gpt2'; layers: number; width: number; heads: number; context: number; vocab: number }
    | { family: 'tfjs'; path: string; init: TfjsInit };
  data:
    | { format: 'builtin'; dataset: DatasetName }
    | { format: 'idx'; path: string; holdout?: number }
    | { format: 'text'; path: string; tokenizer: 'byte' | 'gpt2'; valFraction: number }
    | { format: 'csv'; path: string; labelColumn: string; testFraction: number; standardize: boolean };
  optimizer: { lr: number; weightDecay: number; batchSize: number };
  contextLen?: number;
  evalTokens?: number;
  budget: number;
  period: number;
  evalEvery: number;
  target: { metric: 'acc' | 'ppl'; value: number };
}

const VISION_BUILTIN: Record<string, { channels: number; classes: number; pixels: number }> = {
  'fashion-mnist': { channels: 1, classes: 10, pixels: 28 * 28 },
  cifar10: { channels: 3, classes: 10, pixels: 32 * 32 },
  cifar100: { channels: 3, classes: 100, pixels: 32 * 32 },
};
const LANGUAGE_BUILTIN: Record<string, number> = { lm1b: 50257, wikitext103: 50257, 'sotu-bytes': 256 };
const TOKENIZER_VOCAB = { byte: 256, gpt2: 50257 } as const;
/** held-out tokens an evaluation reads when a language task file does not say */
export const DEFAULT_EVAL_TOKENS = 65_536;

/** Validates and resolves a parsed task file; `source` names it in errors, `baseDir` anchors data paths. */
export function parseTaskFile(raw: unknown, o: { source: string; baseDir: string }): TaskSpec {
  const fail = (m: string): never => {
    throw new InputError(`${o.source}: ${m}`);
  };
  const errs = validateJson(taskSchema(), raw);
  if (errs.length)
    fail(errs.length === 1 ? errs[0] : `${errs[0]} (and ${errs.length - 1} more: ${errs.slice(1).join('; ')})`);
  const f = applyDefaults(taskSchema(), raw) as TaskFile;
  const m = f.model;
  const d = f.data;
  const language = m.family === 'gpt2';
  let tfjs: TfjsModelArgs | undefined;
  const builtin = d.format === 'builtin' ? d.dataset : null;
  if (language) {
    if (!(d.format === 'text' || (builtin && builtin in LANGUAGE_BUILTIN)))
      fail(
        `model.family 'gpt2' needs language data (data.format 'text', or dataset ${Object.keys(LANGUAGE_BUILTIN).join(', ')})`,
      );
    const need = d.format === 'text' ? TOKENIZER_VOCAB[d.tokenizer] : LANGUAGE_BUILTIN[builtin!];
    if (m.vocab < need) fail(`model.vocab is ${m.vocab} but the data's tokens need ${need}`);
    if (m.width % m.heads !== 0) fail(`model.width ${m.width} is not a multiple of model.heads ${m.heads}`);
    if (f.target.metric !== 'ppl') fail("target.metric must be 'ppl' for a language model");
    if (f.contextLen !== undefined && f.contextLen > m.context)
      fail(`contextLen ${f.contextLen} exceeds model.context ${m.context}`);
  } else {
    if (m.family === 'tfjs') {
      try {
        tfjs = resolveTfjsModel(resolve(o.baseDir, m.path), m.init);
      } catch (e) {
        if (e instanceof TfjsModelError) fail(`model.path: ${e.message}`);
        throw e;
      }
    }
    if (f.contextLen !== undefined) fail("'contextLen' is for language tasks (model.family 'gpt2') only");
    if (f.evalTokens !== undefined) fail("'evalTokens' is for language tasks (model.family 'gpt2') only");
    if (f.target.metric !== 'acc') fail("target.metric must be 'acc' for a classifier");
    if (d.format === 'text' || (builtin && !(builtin in VISION_BUILTIN)))
      fail(
        `model.family '${m.family}' needs image${m.family !== 'convnet' ? ' or tabular' : ''} data, not ${builtin ? `dataset '${builtin}'` : "format 'text'"}`,
      );
    if (m.family === 'convnet' && d.format === 'csv')
      fail("model.family 'convnet' needs images (data.format 'idx' or a built-in image dataset), not CSV");
    if (m.family === 'tfjs') {
      const n = tfjs!.inputShape.reduce((a, b) => a * b, 1);
      if (builtin && n !== VISION_BUILTIN[builtin].channels * VISION_BUILTIN[builtin].pixels)
        fail(
          `model.path: the model's input [${tfjs!.inputShape}] takes ${n} values but ${builtin} images have ${VISION_BUILTIN[builtin].channels * VISION_BUILTIN[builtin].pixels}`,
        );
      if (builtin && tfjs!.numClasses !== VISION_BUILTIN[builtin].classes)
        fail(
          `model.path: the model has ${tfjs!.numClasses} outputs but ${builtin} has ${VISION_BUILTIN[builtin].classes} classes`,
        );
    } else if (builtin) {
      const v = VISION_BUILTIN[builtin];
      if (m.classes !== v.classes) fail(`model.classes is ${m.classes} but ${builtin} has ${v.classes} classes`);
      if (m.family === 'convnet' && m.inChannels !== v.channels)
        fail(`model.inChannels is ${m.inChannels} but ${builtin} has ${v.channels} channel(s)`);
      if (m.family === 'mlp' && m.inputs !== v.channels * v.pixels)
        fail(`model.inputs is ${m.inputs} but ${builtin} images have ${v.channels * v.pixels} values`);
    }
  }
  let files: FileData | undefined;
  if (d.format !== 'builtin') {
    const path = resolve(o.baseDir, d.path);
    try {
      if (d.format === 'idx') locateIdxFolder(path);
      else if (d.format === 'text') textFolderFiles(path);
      else if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`CSV file '${path}' does not exist`);
    } catch (e) {
      fail(`data.path: ${(e as Error).message}`);
    }
    files = { ...d, path } as FileData;
  }
  const model: ModelArgs =
    m.family === 'convnet'
      ? {
          arch: 'convnet',
          hid: m.channels as [number, number, number],
          inChannels: m.inChannels,
          numClasses: m.classes,
        }
      : m.family === 'mlp'
        ? { arch: 'mlp', inFeatures: m.inputs, hidden: m.hidden, numClasses: m.classes }
        : m.family === 'tfjs'
          ? tfjs!
          : {
              arch: 'gpt2',
              vocabSize: m.vocab,
              nPositions: m.context,
              nEmbd: m.width,
              nLayer: m.layers,
              nHead: m.heads,
            };
  // same key order as the registry's entries
  const spec: TaskSpec = {
    name: f.name,
    description: f.description,
    paper: f.paper,
    inDistribution: f.inDistribution,
    dataset: builtin ?? 'files',
    model,
    lr: f.optimizer.lr,
    weightDecay: f.optimizer.weightDecay,
    batchSize: f.optimizer.batchSize,
    ...(language ? { contextLen: f.contextLen ?? m.context } : {}),
    steps: f.budget,
    target: { metric: f.target.metric, value: f.target.value },
    evalEvery: f.evalEvery,
    ...(language ? { evalTokens: f.evalTokens ?? DEFAULT_EVAL_TOKENS } : {}),
    period: f.period,
    ...(files ? { files } : {}),
  };
  return spec;
}

const cache = new Map<string, { mtime: number; spec: TaskSpec }>();
let stdinSpec: TaskSpec | null = null;

/** Reads, validates and resolves a task file ('-' reads standard input); cached per path and mtime. */
export function loadTaskFile(path: string): TaskSpec {
  if (path === '-') {
    if (stdinSpec) return stdinSpec;
    let text: string;
    try {
      text = readFileSync(0, 'utf8');
    } catch (e) {
      throw new InputError(`task file '-': cannot read standard input (${(e as Error).message})`);
    }
    return (stdinSpec = parseTaskText(text, '(stdin)', process.cwd()));
  }
  const abs = resolve(path);
  if (!existsSync(abs) || !statSync(abs).isFile())
    throw new InputError(
      `task file '${path}' does not exist (give a task name from \`nino tasks\` or a task file path)`,
    );
  const mtime = statSync(abs).mtimeMs;
  const hit = cache.get(abs);
  if (hit && hit.mtime === mtime) return hit.spec;
  const spec = parseTaskText(readFileSync(abs, 'utf8'), path, dirname(abs));
  cache.set(abs, { mtime, spec });
  return spec;
}

function parseTaskText(text: string, source: string, baseDir: string): TaskSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${source}: invalid JSON (${(e as Error).message})`);
  }
  return parseTaskFile(raw, { source, baseDir });
}

/** Any task in the task file format (the inverse of parseTaskFile; data paths stay absolute). */
export function taskToFile(spec: TaskSpec): TaskFile & { $schema: string } {
  const m = spec.model;
  const model: TaskFile['model'] =
    m.arch === 'convnet'
      ? { family: 'convnet', channels: [...m.hid], inChannels: m.inChannels, classes: m.numClasses }
      : m.arch === 'mlp'
        ? { family: 'mlp', inputs: m.inFeatures, hidden: [...m.hidden], classes: m.numClasses }
        : m.arch === 'tfjs'
          ? { family: 'tfjs', path: m.path, init: m.init }
          : {
              family: 'gpt2',
              layers: m.nLayer,
              width: m.nEmbd,
              heads: m.nHead,
              context: m.nPositions,
              vocab: m.vocabSize,
            };
  const data: TaskFile['data'] =
    spec.dataset === 'files' ? { ...spec.files! } : { format: 'builtin', dataset: spec.dataset };
  return {
    $schema: 'https://github.com/nino/nino/schemas/task.schema.json',
    name: spec.name,
    description: spec.description,
    paper: spec.paper,
    inDistribution: spec.inDistribution,
    model,
    data,
    optimizer: { lr: spec.lr, weightDecay: spec.weightDecay, batchSize: spec.batchSize },
    ...(spec.contextLen !== undefined ? { contextLen: spec.contextLen } : {}),
    ...(spec.evalTokens !== undefined ? { evalTokens: spec.evalTokens } : {}),
    budget: spec.steps,
    period: spec.period,
    evalEvery: spec.evalEvery,
    target: { ...spec.target },
  };
}
