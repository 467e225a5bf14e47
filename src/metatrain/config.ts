/**
 * The meta-training configuration: ONE table (TRAIN_CONFIG_SCHEMA) says, per setting, its type, default,
 * rule, `nino train-nino` flag and help. Everything else is derived from it: the TrainConfig type, the
 * defaults, the validation, and the command-line options (cli/train-nino.ts registers them in a loop).
 *
 * Adding a setting is one row: `newThing: field(posInt, 3, 'what it does')` (plus its use).
 * The key order is the order of `extra.config` in checkpoints: append new rows, do not reorder.
 */
import { InputError } from '../core/errors.ts';
import { SEED_MAX } from '../core/rng.ts';

/** How a value is read from the command line and what values are allowed. */
export interface Kind<T> {
  /** the command-line argument placeholder, e.g. '<n>' */
  placeholder: string;
  /** the value of a command-line argument (unchecked) */
  parse(raw: string): T;
  ok(v: unknown): v is T;
  /** what `ok` asks for, as in `hid must be a positive integer` */
  rule: string;
}

export interface Field<T> {
  kind: Kind<T>;
  default: T;
  /** the flag's help, or null: no command-line flag (library only) */
  help: string | null;
  /** appended to "(default X" in the help, e.g. 'official 128' */
  note?: string;
  /** a further rule (may look at other settings, already checked by kind); the problem, or null */
  check?: (v: T, c: Readonly<Record<string, unknown>>) => string | null;
}

const num = (raw: string) => Number(raw);
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const posInt: Kind<number> = {
  placeholder: '<n>',
  parse: num,
  ok: (v): v is number => isInt(v) && v > 0,
  rule: 'must be a positive integer',
};
const nonNegInt: Kind<number> = {
  placeholder: '<n>',
  parse: num,
  ok: (v): v is number => isInt(v) && v >= 0,
  rule: 'must be a non-negative integer',
};
const posNumber: Kind<number> = {
  placeholder: '<x>',
  parse: num,
  ok: (v): v is number => isNum(v) && v > 0,
  rule: 'must be a positive number',
};
const nonNegNumber: Kind<number> = {
  placeholder: '<x>',
  parse: num,
  ok: (v): v is number => isNum(v) && v >= 0,
  rule: 'must be a non-negative number',
};
const seedNumber: Kind<number> = {
  placeholder: '<n>',
  parse: (raw) => (/^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN),
  ok: (v): v is number => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= SEED_MAX,
  rule: `must be an integer 0..${SEED_MAX}`,
};
function choice<const T extends string>(placeholder: string, values: readonly T[]): Kind<T> {
  return {
    placeholder,
    parse: (raw) => raw as T,
    ok: (v): v is T => values.includes(v as T),
    rule: `must be ${values.map((x) => `'${x}'`).join(' or ')}`,
  };
}
/** a value of `kind`, or null (the default decides) */
function nullable<T>(kind: Kind<T>): Kind<T | null> {
  return { ...kind, ok: (v): v is T | null => v === null || kind.ok(v) };
}
const text = (placeholder: string): Kind<string> => ({
  placeholder,
  parse: (raw) => raw,
  ok: (v): v is string => typeof v === 'string',
  rule: 'must be a string',
});

const field = <T>(
  kind: Kind<T>,
  def: T,
  help: string | null,
  more: Pick<Field<T>, 'note' | 'check'> = {},
): Field<T> => ({ kind, default: def, help, ...more });

/** Everything that determines a run (stored in checkpoints as `extra.config`), one row per setting. */
export const TRAIN_CONFIG_SCHEMA = {
  /** nino (the GNN) or mlp (the graph-free per-parameter baseline) */
  model: field(choice('<kind>', ['nino', 'mlp'] as const), 'nino', 'nino (GNN) or mlp (graph-free baseline)'),
  hid: field(posInt, 32, 'hidden size', { note: 'official 128' }),
  layers: field(posInt, 3, 'GNN layers'),
  ctx: field(posInt, 5, 'input states per window', { check: (v) => (v < 2 ? 'must be >= 2' : null) }),
  maxHorizon: field(posInt, 40, 'predicted horizons (DMS length)'),
  /** records between input states (null = per file default) */
  stride: field(
    nullable(posInt),
    null,
    "records between input states (default: task period/ctx steps over the file's record spacing)",
  ),
  /** graphs (windows) per batch */
  batch: field(posInt, 4, 'graphs (windows) per batch'),
  windowsPerTraj: field(posInt, 2, 'windows taken from each sampled trajectory'),
  lr: field(posNumber, 3e-3, 'peak AdamW learning rate, cosine decay'),
  minLr: field(nonNegNumber, 1e-6, 'final learning rate', {
    check: (v, c) => (v > (c.lr as number) ? 'must be in [0, lr]' : null),
  }),
  wd: field(nonNegNumber, 0.01, 'AdamW weight decay'),
  clip: field(posNumber, 5, 'gradient clipping, global norm'),
  /** whole trajectories per task held out for validation */
  val: field(nonNegInt, 1, 'whole trajectories (highest seeds) per task held out for validation'),
  valEvery: field(posInt, 100, 'validate every n steps'),
  /** validation windows per held-out trajectory (evenly spaced) */
  valWindows: field(posInt, 8, 'evenly spaced windows per held-out trajectory'),
  ckptEvery: field(posInt, 500, 'write <out>/ckpt.safetensors every n steps'),
  steps: field(posInt, 1000, 'training steps'),
  seed: field(seedNumber, 0, `seed of the init and the data order, 0..${SEED_MAX}`),
  /** LPE columns for the GNN */
  lpe: field(nonNegInt, 8, 'Laplacian PE columns of a fresh GNN'),
  /** checkpoint the weights were initialised from (null = official random init) */
  init: field(
    nullable(text('<ckpt>')),
    null,
    'initialise the weights from a checkpoint (nino or official .safetensors/.pt, or official:<name>) to fine-tune',
  ),
  /** steps between in-memory snapshots used for NaN rollback */
  snapshotEvery: field(posInt, 25, null),
  /** LM graphs: word-embedding rows (vocabulary nodes) kept per training sample (official 1000; 0 = all) */
  wteRows: field(nonNegInt, 1000, 'LM graphs: word-embedding rows kept per training sample, 0 = all'),
  /**
   * LM graphs: the GNN's token-id embedding (official wte_pos_enc: one learned row per vocabulary id,
   * added to the features of the word-embedding nodes). auto = on for a fresh GNN trained on LM data,
   * else as --init has it; on = also add it to an --init model that lacks it (zero rows, so training
   * starts from the init's exact function); off = a fresh GNN without it.
   */
  wtePosEnc: field(
    choice('<mode>', ['auto', 'on', 'off'] as const),
    'auto',
    "LM graphs: the GNN's token-id embedding (wte_pos_enc): auto = on for a fresh GNN on LM data, else as --init has it; on = add it to an --init model too (zero rows); off",
  ),
};

type Schema = typeof TRAIN_CONFIG_SCHEMA;
/** Everything that determines a run (stored in checkpoints as `extra.config`); see TRAIN_CONFIG_SCHEMA. */
export type TrainConfig = { [K in keyof Schema]: Schema[K] extends Field<infer T> ? T : never };
export type TrainConfigKey = keyof TrainConfig;

export const TRAIN_CONFIG_KEYS = Object.keys(TRAIN_CONFIG_SCHEMA) as TrainConfigKey[];
const rows = () => TRAIN_CONFIG_KEYS.map((k) => [k, TRAIN_CONFIG_SCHEMA[k] as Field<unknown>] as const);

export const DEFAULT_TRAIN_CONFIG: TrainConfig = Object.fromEntries(
  rows().map(([k, f]) => [k, f.default]),
) as TrainConfig;

const shown = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v));

/** Throws on the first setting that breaks its rule: `hid must be a positive integer (got 0)`. */
export function validateTrainConfig(c: TrainConfig): void {
  const cfg = c as unknown as Record<string, unknown>;
  for (const [k, f] of rows()) if (!f.kind.ok(cfg[k])) throw new Error(`${k} ${f.kind.rule} (got ${shown(cfg[k])})`);
  for (const [k, f] of rows()) {
    const p = f.check?.(cfg[k], cfg);
    if (p) throw new Error(`${k} ${p} (got ${shown(cfg[k])})`);
  }
}

/** 'maxHorizon' -> 'max-horizon' */
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** A command-line option of one setting (commander: `.option(flags, description, parse)`). */
export interface TrainConfigFlag {
  key: TrainConfigKey;
  /** e.g. '--max-horizon <n>' (the parsed option's name is the key) */
  flags: string;
  description: string;
  /** the argument's value; an InputError (exit 2) `--hid must be a positive integer (got 'x')` when it breaks the rule */
  parse(raw: string): unknown;
}

/** The command-line options of the settings that have one, in table order. */
export function trainConfigFlags(): TrainConfigFlag[] {
  return rows()
    .filter(([, f]) => f.help !== null)
    .map(([key, f]) => {
      const flag = `--${kebab(key)}`;
      const def = f.default === null ? '' : ` (default ${f.default}${f.note ? `; ${f.note}` : ''})`;
      return {
        key,
        flags: `${flag} ${f.kind.placeholder}`,
        description: `${f.help}${def}`,
        parse: (raw: string) => {
          const v = f.kind.parse(raw);
          if (!f.kind.ok(v)) throw new InputError(`${flag} ${f.kind.rule} (got '${raw}')`);
          return v;
        },
      };
    });
}
