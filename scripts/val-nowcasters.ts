/**
 * Held-out validation L1 of several nowcasters on the SAME windows: the split and windows `nino
 * train-nino` validates on (the highest `--val` seeds of each task, `--val-windows` evenly spaced
 * windows each, L1 on scaled parameters over horizons 1..40), so a trained model's logged val L1 can be
 * put next to the official checkpoints'. Prints a Markdown table, per task and pooled, with "last" (no
 * change) and linefit on the same windows.
 *
 *   npx tsx scripts/val-nowcasters.ts --data runs/traj project project-mlp official:nino_no_posw runs/nino/nino.safetensors
 *
 * Models must share ctx and maxHorizon (all of nino's and the official ones do: 5 and 40).
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src/core/backend.ts';
import {
  DEFAULT_TRAIN_CONFIG,
  expandDataPaths,
  loadTrajectorySet,
  splitByTrajectory,
  TrainModel,
  Validator,
  type TrainConfig,
  type ValResult,
} from '../src/metatrain/index.ts';
import { loadCheckpoint } from '../src/model/checkpoint.ts';
import { nowcasterPath } from '../src/nowcast/resolve.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', multiple: true },
    val: { type: 'string', default: '1' },
    'val-windows': { type: 'string', default: String(DEFAULT_TRAIN_CONFIG.valWindows) },
    backend: { type: 'string', default: 'wasm' },
  },
});
if (!values.data?.length || !positionals.length) {
  console.error(
    'usage: npx tsx scripts/val-nowcasters.ts --data <dir|file...> [--val 1] [--val-windows 8] <nowcaster...>',
  );
  process.exit(2);
}
await initBackend(values.backend);

const models = positionals.map((ref) => {
  const path = nowcasterPath(ref, { officialDir: process.env.NINO_OFFICIAL_DIR });
  if (!path) throw new Error(`${ref} has no weights (linefit is a baseline row already)`);
  return { ref, ck: loadCheckpoint(path) };
});
const { ctx, maxHorizon } = models[0].ck.config;
for (const m of models)
  if (m.ck.config.ctx !== ctx || m.ck.config.maxHorizon !== maxHorizon)
    throw new Error(
      `${m.ref}: ctx/maxHorizon ${m.ck.config.ctx}/${m.ck.config.maxHorizon}, expected ${ctx}/${maxHorizon}`,
    );
const lpe = Math.max(...models.map((m) => (m.ck.config.kind === 'gnn' ? m.ck.config.lpe : 0)));
const tc: TrainConfig = {
  ...DEFAULT_TRAIN_CONFIG,
  ctx,
  maxHorizon,
  val: Number(values.val),
  valWindows: Number(values['val-windows']),
};
const set = loadTrajectorySet(expandDataPaths(values.data), { ctx, maxHorizon, lpe });
const { val } = splitByTrajectory(set, tc.val);
const validator = new Validator(set, val, tc);
console.error(`held out: ${val.map((i) => set.trajs[i].path).join(', ')} (${validator.samples.length} windows)`);

const rows: { name: string; v: ValResult }[] = [];
for (const m of models) {
  const t0 = performance.now();
  const model = new TrainModel(m.ck.config, m.ck.weights);
  const v = validator.run(model, 0)!;
  model.dispose();
  rows.push({ name: m.ref, v });
  console.error(`${m.ref}: ${v.l1.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
const tasks = Object.keys(rows[0].v.perTask ?? {});
const f = (x: number) => x.toFixed(4);
const cols = [...tasks, 'all'];
const cell = (v: ValResult, task: string, key: 'l1' | 'last' | 'linefit') =>
  f(task === 'all' ? v[key] : v.perTask![task][key]);
console.log(`| model | ${cols.join(' | ')} |`);
console.log(`|---|${cols.map(() => '---').join('|')}|`);
const v0 = rows[0].v;
console.log(`| "last" (no change) | ${cols.map((c) => cell(v0, c, 'last')).join(' | ')} |`);
console.log(`| linefit | ${cols.map((c) => cell(v0, c, 'linefit')).join(' | ')} |`);
for (const r of rows) console.log(`| ${r.name} | ${cols.map((c) => cell(r.v, c, 'l1')).join(' | ')} |`);
