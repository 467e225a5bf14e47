/** Runs jobs sent by workers.ts, and serves requests (worker-service.ts), inside a worker thread (one compute backend per thread). */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from './backend.ts';
import { exitCodeOf } from './errors.ts';
import type { Logger } from './logger.ts';
import type { WorkerMessage, WorkerReply } from './workers.ts';

const port = parentPort!;
const post = (m: WorkerReply) => port.postMessage(m);

const makeLogger = (jobId: number): Logger => {
  const at = (level: 'info' | 'warn' | 'error' | 'debug') => (obj: object | string, msg?: string) =>
    post({
      type: 'log',
      jobId,
      level,
      obj: typeof obj === 'string' ? {} : obj,
      msg: typeof obj === 'string' ? obj : (msg ?? ''),
    });
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
};

await initBackend(workerData.backend);
/** the handler of a served job (worker-service.ts), answering requests one at a time */
let handler: ((args: unknown) => Promise<unknown>) | null = null;
port.on('message', async (m: WorkerMessage) => {
  try {
    let result: unknown;
    if (m.kind === 'request') {
      if (!handler) throw new Error('request to a worker that serves nothing');
      result = await handler(m.args);
    } else {
      const mod = await import(m.module);
      const fn = mod[m.name];
      if (typeof fn !== 'function')
        throw new Error(
          `${m.module} exports no function ${m.name} (declare jobs with workerJob(import.meta.url, fn) in fn's own module)`,
        );
      result = await fn(m.args, {
        logger: makeLogger(m.jobId),
        progress: (p: unknown) => post({ type: 'progress', jobId: m.jobId, p }),
      });
      if (m.kind === 'serve') {
        if (typeof result !== 'function') throw new Error(`${m.name} returned no request handler`);
        handler = result as (args: unknown) => Promise<unknown>;
        result = null;
      }
    }
    post({ type: 'done', jobId: m.jobId, result });
  } catch (e) {
    post({
      type: 'error',
      jobId: m.jobId,
      message: (e as Error).message,
      stack: (e as Error).stack,
      exitCode: exitCodeOf(e),
    });
  }
});
post({ type: 'ready' });
