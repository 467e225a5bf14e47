/**
 * What a training method is to the benchmark and to collect: a named recipe that, given the task and the
 * model being trained, produces an ordinary `Optimizer` (optim/types.ts). The loops never ask which
 * method they hold; the bench only reads a method's label, its cache-key contribution and, after the run,
 * the nowcast events an optimizer may report.
 *
 * A method is used through a `MethodSpec` ({ name, options }): plain JSON, so it crosses worker threads
 * inside a bench run spec. `resolveMethod` (registry.ts) checks the options once and binds them.
 */
import type { Logger } from '../core/logger.ts';
import type { NowcastEvent } from '../nowcast/nino.ts';
import type { Optimizer } from '../optim/types.ts';
import type { TaskSpec } from '../tasks/registry.ts';
import type { TaskRuntime } from '../tasks/runtime.ts';
import type { ModelDef } from '../tasks/types.ts';

/** A method and its options, as stored in a run spec (structured-cloneable JSON). */
export interface MethodSpec {
  /** registered method name ('adam', 'nino'; see methodNames()) */
  name: string;
  /** the method's options, checked by its `parse` */
  options?: Record<string, unknown>;
}

/** What `create` gets: the run's task (its optimizer settings), the model trained, the step budget. */
export interface MethodContext {
  task: TaskSpec;
  model: ModelDef;
  /** steps the run trains at most (NiNo spreads its horizon schedule over it) */
  budget: number;
  /** the task runtime, for methods that evaluate a loss themselves (NiNo's jump check) */
  runtime?: TaskRuntime;
  logger?: Logger;
}

/** The optimizer a method makes; methods that nowcast report one event per nowcast. */
export interface MethodOptimizer extends Optimizer {
  readonly events?: readonly NowcastEvent[];
}

/** A registered method over options of type O. */
export interface MethodDef<O> {
  readonly name: string;
  /** one line for help texts and error messages */
  readonly description: string;
  /** checks the options (throws InputError naming what is wrong) and returns them normalised */
  parse(options: Record<string, unknown> | undefined): O;
  /** label in tables and run folders ('adam', 'nino_no_posw', ...) */
  label(o: O): string;
  /**
   * The method's part of a run's cache key (JSON). `withCode` adds what the stored result depends on
   * beyond the protocol (checkpoint bytes, the method's own code); false gives the protocol key that
   * --report-only compares across code versions.
   */
  key(o: O, withCode: boolean): unknown;
  /** checks that read files (a checkpoint loads), before long work starts; InputError-free errors are fine */
  check?(o: O): void;
  /** JSON description of the optimizer's settings for a task (collect stores it with each trajectory) */
  settings?(o: O, task: TaskSpec): Record<string, unknown>;
  create(o: O, ctx: MethodContext): Promise<MethodOptimizer>;
}

/** A method with its options checked and bound (registry.ts resolveMethod). */
export interface ResolvedMethod {
  readonly name: string;
  readonly spec: MethodSpec;
  readonly label: string;
  key(withCode: boolean): unknown;
  check(): void;
  settings(task: TaskSpec): Record<string, unknown> | null;
  create(ctx: MethodContext): Promise<MethodOptimizer>;
}
