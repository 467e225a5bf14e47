/**
 * A small job pool over worker_threads: each worker has its own compute backend (tfjs wasm is
 * single-threaded in Node, so two workers use both cores). A job is an exported async function
 * `fn(args, { logger, progress })`, declared once in its own module with `workerJob`; logs and progress
 * are forwarded to the parent, results come back in the order of the arguments. With workers = 1 jobs
 * run in this thread (no worker start-up cost, easier to debug); they stop at their safe points
 * (interrupt.ts) on Ctrl-C / SIGTERM, and worker threads are terminated, so an interrupt always ends
 * runJobs with InterruptedError.
 *
 * Adding a job: export the function, and next to it its descriptor (typed args and result; go-to-definition
 * and rename follow the function, whose own name is how a worker finds it):
 *
 *   export async function collectTrajectory(job: CollectJob, o: JobContext): Promise<CollectResult> { ... }
 *   export const collectJob = workerJob(import.meta.url, collectTrajectory);
 *   // caller:
 *   const results = await runJobs(collectJob, jobs, { workers: 2, backend: 'wasm', logger, progress });   // CollectResult[]
 *
 * Arguments and results cross threads by structured clone (plain data: no functions, class instances
 * lose their prototype).
 *
 * Sources (tests, tsx) and the compiled package (dist/, plain node) both work: a worker runs
 * worker-run.js directly when this module is compiled, and worker-boot.mjs (tsx's loader, then
 * worker-run.ts) when it runs from the TypeScript sources.
 */
import { Worker } from 'node:worker_threads';
import { InterruptedError, onInterrupt, throwIfInterrupted } from './interrupt.ts';
import type { Logger, ProgressFn } from './logger.ts';
import { silentLogger } from './logger.ts';

/** What a job function gets besides its arguments. */
export interface JobContext {
  logger: Logger;
  progress?: ProgressFn;
}

/** A job function: structured-cloneable arguments in, a structured-cloneable result out. */
export type JobFn<A, R> = (args: A, o: JobContext) => Promise<R>;

/** A job descriptor (workerJob): the function, and where a worker thread finds it. */
export interface WorkerJob<A, R> {
  /** URL of the module that exports the function (its import.meta.url) */
  readonly module: string;
  /** the function's own name, under which that module exports it */
  readonly name: string;
  readonly run: JobFn<A, R>;
}

/**
 * Declares `fn` as a worker job. Call it in the module that exports `fn` (under its own name), with that
 * module's import.meta.url: `export const fooJob = workerJob(import.meta.url, foo)`. The URL names the
 * .ts source or the compiled .js file, whichever is running, so no path is spelled out.
 */
export function workerJob<A, R>(moduleUrl: string, fn: JobFn<A, R>): WorkerJob<A, R> {
  if (!fn.name) throw new Error('workerJob: the job function needs a name (export it as a named function)');
  return Object.freeze({ module: moduleUrl, name: fn.name, run: fn });
}

/** What the parent posts to a worker for one job. */
export interface JobMessage {
  jobId: number;
  module: string;
  name: string;
  args: unknown;
  /** 'serve': the job's result is a request handler the worker keeps (worker-service.ts) */
  kind?: 'job' | 'serve';
}
/** A request to the handler a worker serves (worker-service.ts). */
export interface RequestMessage {
  kind: 'request';
  jobId: number;
  args: unknown;
}
export type WorkerMessage = JobMessage | RequestMessage;
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'log'; jobId: number; level: 'info' | 'warn' | 'error' | 'debug'; obj: object; msg: string }
  | { type: 'progress'; jobId: number; p: unknown }
  | { type: 'done'; jobId: number; result: unknown }
  | { type: 'error'; jobId: number; message: string; stack?: string; exitCode?: number };

export interface PoolOptions {
  workers: number;
  backend: string;
  logger?: Logger;
  progress?: ProgressFn;
  /** stop handing out jobs after the first failure (default true) */
  failFast?: boolean;
}

/** A job that failed in a worker thread: its message, and its exit code (core/errors.ts) across the thread. */
export class JobError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}

/** True when `url` (an import.meta.url) is a TypeScript source, false in the compiled package. */
export function isSourceModule(url: string): boolean {
  return /\.[cm]?ts$/.test(new URL(url).pathname);
}

/**
 * URL of a module given by its source path relative to `base` (the caller's import.meta.url):
 * './run.ts' from src/bench/bench.ts, './run.js' from dist/bench/bench.js. Import specifiers are
 * rewritten by the build; URLs computed at run time are not, hence this helper. (Jobs do not need it:
 * workerJob takes the job module's own import.meta.url.)
 */
export function jobModule(relSource: string, base: string): string {
  const rel = isSourceModule(base) ? relSource : relSource.replace(/\.([cm]?)ts$/, '.$1js');
  return new URL(rel, base).href;
}

/** The worker-thread entry: the compiled runner as is, or the tsx bootstrap for the sources. */
export function workerEntry(): URL {
  return isSourceModule(import.meta.url)
    ? new URL('./worker-boot.mjs', import.meta.url)
    : new URL('./worker-run.js', import.meta.url);
}

/**
 * Runs `job` once per element of `args` (in worker threads when o.workers > 1) and returns the results
 * in the order of `args`. The first failure is thrown (a JobError carrying its exit code across the
 * thread); with failFast (default) no further jobs are handed out.
 */
export async function runJobs<A, R>(job: WorkerJob<A, R>, args: readonly A[], o: PoolOptions): Promise<R[]> {
  const logger = o.logger ?? silentLogger;
  const results: R[] = new Array(args.length);
  if (o.workers <= 1 || args.length <= 1) {
    for (let i = 0; i < args.length; i++) {
      throwIfInterrupted();
      results[i] = await job.run(args[i], { logger, progress: o.progress });
    }
    return results;
  }
  const jobs = args;
  const n = Math.min(o.workers, jobs.length);
  let next = 0;
  let failure: Error | null = null;
  const boot = workerEntry();
  const live = new Set<Worker>();
  let interrupted: InterruptedError | null = null;
  let finished = 0;
  const unsubscribe = onInterrupt((sig) => {
    if (finished === jobs.length) return; // all work is done: not an interruption
    interrupted = new InterruptedError(sig);
    for (const w of live) void w.terminate();
  });
  try {
    await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(boot, { workerData: { backend: o.backend } });
            live.add(w);
            w.on('exit', () => {
              live.delete(w);
              resolve();
            });
            const give = () => {
              if (interrupted || next >= jobs.length || (failure && o.failFast !== false)) {
                w.terminate().then(() => resolve(), reject);
                return;
              }
              const jobId = next++;
              w.postMessage({ jobId, module: job.module, name: job.name, args: jobs[jobId] } satisfies JobMessage);
            };
            w.on('message', (m: WorkerReply) => {
              if (m.type === 'ready') give();
              else if (m.type === 'log') logger[m.level](m.obj, m.msg);
              else if (m.type === 'progress') o.progress?.(m.p as Parameters<ProgressFn>[0]);
              else if (m.type === 'done') {
                finished++;
                results[m.jobId] = m.result as R;
                give();
              } else if (m.type === 'error') {
                finished++;
                // the first failure is thrown (the CLI prints it once); another job's different error is logged
                // as one line; stacks only at debug level
                logger.debug({ jobId: m.jobId, stack: m.stack }, `job ${m.jobId} failed`);
                if (!failure) failure = new JobError(m.message, m.exitCode);
                else if (m.message !== failure.message) logger.error({ jobId: m.jobId }, m.message);
                give();
              }
            });
            w.on('error', (e) => {
              failure ??= e;
              resolve();
            });
          }),
      ),
    );
  } finally {
    unsubscribe();
  }
  if (interrupted) throw interrupted;
  if (failure) throw failure;
  return results;
}
