/**
 * The method registry: every way bench and collect can train is a registered method (types.ts), looked
 * up by name. Bench runs and collected trajectories get their optimizer only from here, so a new base
 * optimizer, lookahead, or another learned optimizer is one more `registerMethod` call, not a change to
 * the bench or the training loop.
 *
 *   const m = resolveMethod({ name: 'nino', options: { nowcaster: 'official:nino_no_posw', period: 300 } });
 *   const opt = await m.create({ task, model: rt.model, budget: 3000, logger });   // an Optimizer
 *
 * Built in: 'adam' (adam.ts, the baseline and collect's optimizer) and 'nino' (nino.ts).
 */
import { InputError } from '../core/errors.ts';
import { adamMethodDef } from './adam.ts';
import { ninoMethodDef } from './nino.ts';
import type { MethodDef, MethodSpec, ResolvedMethod } from './types.ts';

const METHODS = new Map<string, MethodDef<unknown>>();

/** Adds a method (its name must be new). */
export function registerMethod<O>(def: MethodDef<O>): void {
  if (METHODS.has(def.name)) throw new Error(`method '${def.name}' is already registered`);
  METHODS.set(def.name, def as MethodDef<unknown>);
}

registerMethod(adamMethodDef);
registerMethod(ninoMethodDef);

export function methodNames(): string[] {
  return [...METHODS.keys()];
}

/** The registered method `name`; an unknown name is an InputError listing the known ones. */
export function getMethod(name: string): MethodDef<unknown> {
  const m = METHODS.get(name);
  if (!m) throw new InputError(`unknown method '${name}'; known methods: ${methodNames().join(', ')}`);
  return m;
}

/** The 'adam' method's spec: AdamW with the task's settings. */
export const ADAM: MethodSpec = Object.freeze({ name: 'adam' }) as MethodSpec;

/** Looks the method up and checks its options (InputError for either), binding them. */
export function resolveMethod(spec: MethodSpec): ResolvedMethod {
  const def = getMethod(spec.name);
  const o = def.parse(spec.options);
  return {
    name: def.name,
    spec,
    label: def.label(o),
    key: (withCode) => def.key(o, withCode),
    check: () => def.check?.(o),
    settings: (task) => def.settings?.(o, task) ?? null,
    create: (ctx) => def.create(o, ctx),
  };
}

export { adamMethodDef, adamOptions, taskAdamW } from './adam.ts';
export { ninoMethod, ninoMethodDef, type NiNoMethodOptions, type NowcastInferenceOptions } from './nino.ts';
export type { MethodContext, MethodDef, MethodOptimizer, MethodSpec, ResolvedMethod } from './types.ts';
