/**
 * Persistent worker threads that keep state between requests (workers.ts runs one-off jobs). A service
 * is a job (workerJob) whose result is a request handler: each worker runs it once with its own init
 * arguments (load data, build a model...), keeps the handler, and answers requests with it, one at a
 * time, in its own compute backend. Logs are forwarded to the parent's logger. On Ctrl-C / SIGTERM the
 * threads are terminated and pending requests fail with InterruptedError; a worker's error fails its
 * request with a JobError (its message and exit code).
 *
 *   export async function shardGrads(init: Init, o: JobContext) { const m = load(init); return async (q: Q) => m.grads(q); }
 *   export const shardGradsService = workerJob(import.meta.url, shardGrads);
 *   // caller:
 *   const ws = await ServiceWorkers.start(shardGradsService, [initA, initB], { backend: 'wasm', logger });
 *   const [a, b] = await Promise.all([ws.request(0, q0), ws.request(1, q1)]);
 *   await ws.close();
 */
import { Worker } from 'node:worker_threads';
import { InterruptedError, onInterrupt } from './interrupt.ts';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import {
  JobError,
  workerEntry,
  type JobMessage,
  type RequestMessage,
  type WorkerJob,
  type WorkerMessage,
  type WorkerReply,
} from './workers.ts';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** One thread serving one handler. */
class ServiceThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  readonly ready: Promise<void>;

  constructor(
    readonly worker: Worker,
    logger: Logger,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      const onMsg = (m: WorkerReply) => {
        if (m.type !== 'ready') return;
        worker.off('message', onMsg);
        resolve();
      };
      worker.on('message', onMsg);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker thread exited (code ${code}) before it started`)));
    });
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'log') logger[m.level](m.obj, m.msg);
      else if (m.type === 'done' || m.type === 'error') {
        const p = this.pending.get(m.jobId);
        this.pending.delete(m.jobId);
        if (m.type === 'done') p?.resolve(m.result);
        else {
          logger.debug({ stack: m.stack }, 'worker request failed');
          p?.reject(new JobError(m.message, m.exitCode));
        }
      }
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => this.fail(new Error(`worker thread exited (code ${code})`)));
  }

  /** fails every pending request and all later ones with `e` */
  fail(e: Error): void {
    this.dead ??= e;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  send(m: Omit<JobMessage, 'jobId'> | Omit<RequestMessage, 'jobId'>): Promise<unknown> {
    if (this.dead) return Promise.reject(this.dead);
    const jobId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(jobId, { resolve, reject });
      this.worker.postMessage({ ...m, jobId } as WorkerMessage);
    });
  }
}

export interface ServiceOptions {
  backend: string;
  logger?: Logger;
}

/** Worker threads, each serving the handler `job` returned for its init arguments. */
export class ServiceWorkers<Q, R> {
  private closed = false;
  private readonly unsubscribe: () => void;

  private constructor(private readonly threads: ServiceThread[]) {
    this.unsubscribe = onInterrupt((sig) => {
      for (const t of this.threads) t.fail(new InterruptedError(sig));
      void this.close();
    });
  }

  /** Starts one thread per element of `inits` and runs `job` there with it; resolves when all serve. */
  static async start<I, Q, R>(
    job: WorkerJob<I, (q: Q) => Promise<R>>,
    inits: readonly I[],
    o: ServiceOptions,
  ): Promise<ServiceWorkers<Q, R>> {
    const logger = o.logger ?? silentLogger;
    const threads = inits.map(
      () => new ServiceThread(new Worker(workerEntry(), { workerData: { backend: o.backend } }), logger),
    );
    const ws = new ServiceWorkers<Q, R>(threads);
    try {
      await Promise.all(threads.map((t) => t.ready));
      await Promise.all(
        threads.map((t, i) => t.send({ kind: 'serve', module: job.module, name: job.name, args: inits[i] })),
      );
    } catch (e) {
      await ws.close();
      throw e;
    }
    return ws;
  }

  get size(): number {
    return this.threads.length;
  }

  /** Asks worker i; its answer (or its error). */
  request(i: number, q: Q): Promise<R> {
    return this.threads[i].send({ kind: 'request', args: q }) as Promise<R>;
  }

  /** Terminates the threads (pending requests fail). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const t of this.threads) t.fail(new Error('worker threads closed'));
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}
