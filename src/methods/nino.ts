/**
 * The 'nino' method: the NiNo wrapper (nowcast/nino.ts) around the 'adam' method's AdamW, with a
 * nowcaster reference (nowcast/resolve.ts: 'project', 'official:<name>', 'linefit', a checkpoint path).
 *
 * Options: { nowcaster: string, period: number, nowcastOptions?: { subgraph?, edgeSampleRatio?,
 * chunkEdges? }, officialDir?: string }. officialDir is where 'official:<name>' is looked for first
 * (the CLI passes $NINO_OFFICIAL_DIR); it is not part of the cache key, the checkpoint's bytes are.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.ts';
import { closureFingerprint, fingerprintOnce } from '../core/version.ts';
import { NiNo } from '../nowcast/nino.ts';
import { nowcasterLabel, nowcasterPath, resolveNowcaster } from '../nowcast/resolve.ts';
import { loadCheckpoint } from '../model/checkpoint.ts';
import { jumpCheckFor } from '../training/check.ts';
import { adamMethodDef } from './adam.ts';
import type { MethodDef, MethodSpec } from './types.ts';

export interface NowcastInferenceOptions {
  /** nowcast transformer graphs one block at a time */
  subgraph?: boolean;
  edgeSampleRatio?: number;
  chunkEdges?: number;
}

export interface NiNoMethodOptions {
  nowcaster: string;
  period: number;
  nowcastOptions?: NowcastInferenceOptions;
  officialDir?: string;
  /** verified jumps: a check-batch loss takes each nowcast whole, shrinks it or skips it (nowcast/nino.ts JumpCheck) */
  checkJumps?: boolean;
  /** look-ahead verified jumps: each jump is judged this many base steps after it and undone if the check loss has not recovered (JumpCheck.lookahead) */
  lookahead?: number;
}

/** The MethodSpec of NiNo around the task's AdamW. */
export function ninoMethod(o: NiNoMethodOptions): MethodSpec {
  return { name: 'nino', options: { ...o } };
}

/** The source root this module runs from (src/, or the emitted build's folder); not a `new URL` literal,
 * which the module walk (core/version.ts) would read as an import of src/index. */
const CODE_ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/** Where a nowcaster run's extra code starts (bench/run.ts leaves these out of the Adam code version). */
export const NOWCASTER_MODULES = ['nowcast/resolve', 'methods/nino'];
/**
 * Left out of every run's module walk: the task registry is data (the whole spec of the run's task is in
 * the run key, so editing another task keeps this one's stored runs).
 */
export const DATA_MODULES = ['tasks/registry'];

/** Fingerprint of the modules a nowcaster run adds: resolution, graphs, models, scaling, everything they import. */
export function nowcasterCodeVersion(root: string = CODE_ROOT): string {
  return fingerprintOnce(`nowcaster\0${root}`, () =>
    closureFingerprint(root, NOWCASTER_MODULES, { stopAt: DATA_MODULES }),
  );
}

/**
 * What a nowcaster run depends on beyond the Adam run: the nowcasting code and the bytes of the checkpoint
 * the reference points to, so a retrained checkpoint (same name) or a change to any module the nowcaster
 * imports re-runs the method instead of reusing a stored result.
 */
export function nowcasterVersion(ref: string, o: { officialDir?: string } = {}): string {
  const path = nowcasterPath(ref, o);
  return fingerprintOnce(`ref\0${ref}\0${path ?? ''}`, () => {
    const h = createHash('sha256').update(nowcasterCodeVersion());
    if (path) h.update(readFileSync(path));
    return h.digest('hex').slice(0, 16);
  });
}

const OPTION_KEYS = new Set(['nowcaster', 'period', 'nowcastOptions', 'officialDir', 'checkJumps', 'lookahead']);

export const ninoMethodDef: MethodDef<NiNoMethodOptions> = {
  name: 'nino',
  description:
    'NiNo around AdamW: a nowcast every `period` steps (options: nowcaster, period, nowcastOptions, officialDir)',
  parse(options) {
    const o = options ?? {};
    const extra = Object.keys(o).filter((k) => !OPTION_KEYS.has(k));
    if (extra.length)
      throw new InputError(
        `method 'nino': unknown option(s) ${extra.join(', ')} (known: ${[...OPTION_KEYS].join(', ')})`,
      );
    if (typeof o.nowcaster !== 'string' || !o.nowcaster)
      throw new InputError(`method 'nino' needs a nowcaster reference (got ${JSON.stringify(o.nowcaster)})`);
    if (!(Number.isInteger(o.period) && (o.period as number) > 0))
      throw new InputError(`method 'nino': period must be a positive integer (got ${JSON.stringify(o.period)})`);
    if (o.checkJumps !== undefined && typeof o.checkJumps !== 'boolean')
      throw new InputError(`method 'nino': checkJumps must be true or false`);
    if (
      o.lookahead !== undefined &&
      !(Number.isInteger(o.lookahead) && (o.lookahead as number) > 0 && (o.lookahead as number) < (o.period as number))
    ) {
      throw new InputError(
        `method 'nino': lookahead must be a whole number of steps in 1..${(o.period as number) - 1} (shorter than the period), got ${JSON.stringify(o.lookahead)}`,
      );
    }
    if (o.lookahead !== undefined && o.checkJumps)
      throw new InputError(
        `method 'nino': checkJumps (judge right after the jump) and lookahead (judge later) are two checks; choose one`,
      );
    if (o.officialDir !== undefined && typeof o.officialDir !== 'string')
      throw new InputError(`method 'nino': officialDir must be a folder path`);
    if (o.nowcastOptions !== undefined && (typeof o.nowcastOptions !== 'object' || o.nowcastOptions === null))
      throw new InputError(`method 'nino': nowcastOptions must be an object`);
    return o as unknown as NiNoMethodOptions;
  },
  label: (o) =>
    nowcasterLabel(o.nowcaster) + (o.checkJumps ? '+check' : '') + (o.lookahead ? `+lookahead${o.lookahead}` : ''),
  // the same JSON as before methods existed, so --report-only keeps accepting runs stored then
  key: (o, withCode) => ({
    nowcaster: o.nowcaster,
    period: o.period,
    options: o.nowcastOptions ?? null,
    ...(o.checkJumps ? { checkJumps: true } : {}),
    ...(o.lookahead ? { lookahead: o.lookahead } : {}),
    ...(withCode ? { version: nowcasterVersion(o.nowcaster, o) } : {}),
  }),
  check(o) {
    const path = nowcasterPath(o.nowcaster, o);
    if (path) loadCheckpoint(path);
  },
  async create(o, ctx) {
    const baseOpt = await adamMethodDef.create({}, ctx);
    const nowcaster = await resolveNowcaster(o.nowcaster, {
      model: ctx.model,
      logger: ctx.logger,
      officialDir: o.officialDir,
      ...o.nowcastOptions,
    });
    const checked = o.checkJumps || !!o.lookahead;
    if (checked && !ctx.runtime)
      throw new Error(`method 'nino' with checkJumps or lookahead needs the task runtime in its context`);
    const check = checked
      ? jumpCheckFor(ctx.runtime!, o.lookahead ? { lookahead: o.lookahead, scales: [1] } : {})
      : undefined;
    return new NiNo({ baseOpt, nowcaster, period: o.period, maxTrainSteps: ctx.budget, check, logger: ctx.logger });
  },
};
