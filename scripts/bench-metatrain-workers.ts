/**
 * Data-parallel meta-training throughput (`train-nino --workers`): steps/s and graphs/s of
 * MetaTrainer steps with the batch split over 1, 2, ... workers (this thread + worker threads, see
 * src/metatrain/parallel.ts), at each hidden size, on the FM-16 (conv, F 9) and SOTU-2-32 (GPT-2) graphs.
 *
 *   npx tsx scripts/bench-metatrain-workers.ts [--backend wasm] [--steps 10] [--batch 4] [--hid 32,64] [--workers 1,2] [--tasks FM-16-3k,SOTU-2-32] [--rounds 1]
 *
 * Trajectories are synthetic (scripts/lib/synth-trajectories.ts) with the tasks' exact layouts. Each
 * configuration starts from the same weights and data order; 2 warm-up steps are not timed, nor is the
 * workers' start-up (printed separately). Wall-clock ratios on a 2-core machine vary from run to run (the
 * threads share the cores and the memory bandwidth with V8's garbage-collector threads): --rounds R repeats every configuration R
 * times, alternating, and prints the median ratio. After the table: where a multi-worker step's wall
 * time goes (this thread's shard, the slowest worker's, the wait for it, the gradient average, the rest).
 * The loss of each timed step is compared with the 1-worker run.
 * CPU s/step is the process's CPU time (all threads) per step: the work data parallelism adds, whatever
 * else runs on the machine (steps/s depends on free cores). "busiest thread" is the most CPU time one
 * thread of this process spent per step (Linux /proc), and "projected" the steps/s ratio it implies
 * when every thread has a core of its own (1 / busiest thread, vs 1 worker): the measure to read when
 * the machine is shared, e.g. when Linux autogroup scheduling gives this session one core in all
 * (check: two busy threads of one process get no more CPU than one).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { initBackend } from '../src/core/backend.ts';
import {
  DEFAULT_TRAIN_CONFIG,
  expandDataPaths,
  loadTrajectorySet,
  MetaTrainer,
  modelConfigFor,
  ParallelGrads,
  type TrainConfig,
} from '../src/metatrain/index.ts';
import { initHostWeights } from '../src/model/weights.ts';
import { writeSynthTrajectories } from './lib/synth-trajectories.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    steps: { type: 'string', default: '10' },
    batch: { type: 'string', default: String(DEFAULT_TRAIN_CONFIG.batch) },
    hid: { type: 'string', default: '32,64' },
    workers: { type: 'string', default: '1,2' },
    tasks: { type: 'string', default: 'FM-16-3k,SOTU-2-32' },
    model: { type: 'string', default: 'nino' },
    rounds: { type: 'string', default: '1' },
  },
});
/** CPU seconds per thread of this process (Linux /proc; empty elsewhere) */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  const dir = '/proc/self/task';
  if (!existsSync(dir)) return out;
  for (const tid of readdirSync(dir)) {
    try {
      const f = readFileSync(`${dir}/${tid}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(v[11]) + Number(v[12])) / 100); // utime + stime, in clock ticks (USER_HZ 100)
    } catch {
      /* the thread ended */
    }
  }
  return out;
}
/** the largest CPU time one thread spent since `before` */
const busiest = (before: Map<string, number>) =>
  Math.max(0, ...[...threadCpu()].map(([t, c]) => c - (before.get(t) ?? 0)));

/**
 * What this machine gives two threads at once, whatever nino does: the wall time of an arithmetic loop
 * and of a memory-streaming loop (one float per 64-byte line of a 32 MB array) alone, then in this
 * thread and a worker thread together. 2 cores that are really 2 give ~1x for both; a memory-bound
 * kernel cannot scale past what the streaming loop gets (0.39x measured on the 2-core VM of the README:
 * one thread saturates its memory bandwidth).
 */
async function probeMachine(): Promise<string> {
  const body = `
    const alu = () => { let x = 1.0001, s = 0; for (let i = 0; i < 2e8; i++) { s += x * i; x = x * 1.0000001 + 1e-9; } return s; };
    const mem = () => { const a = new Float32Array(8 << 20); let s = 0; for (let r = 0; r < 30; r++) for (let i = 0; i < a.length; i += 16) { a[i] += 1; s += a[i]; } return s; };
    const time = (k) => { const t = performance.now(); (k === 'alu' ? alu : mem)(); return performance.now() - t; };`;
  const time = new Function('k', `${body} return time(k);`) as (k: string) => number;
  const out: string[] = [];
  for (const k of ['alu', 'mem']) {
    const solo = time(k);
    const w = new Worker(`${body} require('node:worker_threads').parentPort.postMessage(time(${JSON.stringify(k)}));`, {
      eval: true,
    });
    const other = new Promise<number>((r) => w.once('message', r));
    const mine = time(k);
    const theirs = await other;
    await w.terminate();
    out.push(
      `${k === 'alu' ? 'arithmetic' : 'memory-streaming'} loop ${(solo / Math.max(mine, theirs)).toFixed(2)}x of its solo speed per thread`,
    );
  }
  return `two threads at once on this machine: ${out.join(', ')}`;
}

await initBackend(values.backend);
const steps = Number(values.steps);
const list = (s: string) => s.split(',').map((x) => x.trim());
console.log(
  `backend ${tf.getBackend()}, ${availableParallelism()} cores, batch ${values.batch}, ${steps} timed steps per row`,
);
console.log(await probeMachine());
console.log(
  'task       graph                          hid  workers  steps/s  graphs/s  vs 1 worker  CPU s/step  busiest thread  projected  start-up  max |loss - 1-worker loss|',
);
const rounds = Number(values.rounds);
/** speedups vs the same round's 1-worker run, per configuration */
const speedups = new Map<string, number[]>();
/** per-phase wall times of the multi-worker rows, printed after the table */
const timingLines: string[] = [];
for (const task of list(values.tasks!)) {
  const dir = writeSynthTrajectories(mkdtempSync(join(tmpdir(), 'nino-bench-mtw-')), task);
  const files = expandDataPaths([dir]);
  for (const hid of list(values.hid!).map(Number)) {
    const tc: TrainConfig = {
      ...DEFAULT_TRAIN_CONFIG,
      model: values.model as 'nino' | 'mlp',
      hid,
      batch: Number(values.batch),
      steps: 1000,
      val: 0,
    };
    const load = { ctx: tc.ctx, maxHorizon: tc.maxHorizon, lpe: tc.model === 'nino' ? tc.lpe : 0 };
    const set = loadTrajectorySet(files, load);
    const g = set.graphs[0].graph;
    const cfg = modelConfigFor(tc, set);
    for (let round = 0; round < rounds; round++) {
      let base: { sps: number; losses: number[]; proj: number } | null = null;
      for (const workers of list(values.workers!).map(Number)) {
        const t = new MetaTrainer(
          set,
          set.trajs.map((_, i) => i),
          [],
          cfg,
          tc,
          initHostWeights(cfg, 0),
        );
        const s0 = performance.now();
        const pg =
          workers > 1
            ? await ParallelGrads.start(set, {
                workers,
                files,
                load,
                cfg,
                host: t.hostWeights(),
                backend: tf.getBackend(),
              })
            : null;
        const startMs = performance.now() - s0;
        const step = () => (pg ? t.trainStepParallel(pg) : Promise.resolve(t.trainStep()));
        await step(); // warm-up
        await step();
        const losses: number[] = [];
        const phase = { main: 0, worker: 0, wait: 0, reduce: 0, step: 0 };
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        const th0 = threadCpu();
        for (let i = 0; i < steps; i++) {
          const ts = performance.now();
          losses.push((await step()).loss);
          phase.step += performance.now() - ts;
          const pt = pg?.lastTimings;
          if (pt) {
            phase.main += pt.main;
            phase.worker += Math.max(...pt.workers);
            phase.wait += pt.wait;
            phase.reduce += pt.reduce;
          }
        }
        const sec = (performance.now() - t0) / 1000;
        const c = process.cpuUsage(c0);
        const busiestPerStep = busiest(th0) / steps;
        const cpuPerStep = (c.user + c.system) / 1e6 / steps;
        await pg?.close();
        t.dispose();
        const sps = steps / sec;
        const proj = busiestPerStep > 0 ? 1 / busiestPerStep : NaN;
        base ??= { sps, losses, proj };
        const key = `${task} hid ${hid}, ${workers} workers`;
        speedups.set(key, [...(speedups.get(key) ?? []), sps / base.sps]);
        const dl = Math.max(...losses.map((l, i) => Math.abs(l - base!.losses[i])));
        if (pg) {
          const ms = (x: number) => `${(x / steps).toFixed(1)} ms`;
          timingLines.push(
            `${task} hid ${hid}, ${workers} workers, per step: wall ${ms(phase.step)} = shard 0 here ${ms(phase.main)} (slowest worker shard ${ms(phase.worker)}) + wait ${ms(phase.wait)} + reduce ${ms(phase.reduce)} + the rest (draws, copies, clip, AdamW) ${ms(phase.step - phase.main - phase.wait - phase.reduce)}`,
          );
        }
        console.log(
          `${task.padEnd(10)} ${`${g.numEdges} edges, ${g.numNodes} nodes, F ${g.maxFeat}`.padEnd(30)} ${String(hid).padStart(3)}  ${String(workers).padStart(7)}  ` +
            `${sps.toFixed(3).padStart(7)}  ${((steps * tc.batch) / sec).toFixed(2).padStart(8)}  ${`${(sps / base.sps).toFixed(2)}x`.padStart(11)}  ${cpuPerStep.toFixed(3).padStart(10)}  ${busiestPerStep.toFixed(3).padStart(14)}  ${`${(proj / base.proj).toFixed(2)}x`.padStart(9)}  ${`${(startMs / 1000).toFixed(1)} s`.padStart(8)}  ${dl.toExponential(1)}`,
        );
      }
    }
  }
}
if (rounds > 1) {
  console.log(`\nsteps/s vs 1 worker, median of ${rounds} rounds (each round runs every worker count once, in turn):`);
  for (const [k, v] of speedups) {
    const m = [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    console.log(`  ${k}: ${m.toFixed(2)}x (${v.map((x) => x.toFixed(2)).join(', ')})`);
  }
}
console.log('\nwhere a multi-worker step goes (means over the timed steps):');
for (const l of timingLines) console.log(`  ${l}`);
