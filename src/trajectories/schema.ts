/**
 * The trajectory file format (Apache Arrow IPC file, one file per (task, seed) run), version 1.
 *
 * Rows: one per recorded step (every E steps, plus step 0 = the initial parameters).
 * Columns:
 *   step        Int32     optimizer steps done when the row was recorded
 *   train_loss  Float32   mean training loss over the steps since the previous row (NaN at step 0)
 *   val_loss    Float32   held-out loss (NaN when not evaluated)
 *   val_acc     Float32   held-out accuracy in % (vision; NaN otherwise)
 *   val_ppl     Float32   held-out perplexity (language; NaN otherwise)
 *   <param name> FixedSizeList<Float32>[numel]   one column per parameter tensor, PyTorch name
 *               (e.g. `fc.0.weight`), values in PyTorch storage order; field metadata `shape` = JSON
 * Schema metadata (all strings):
 *   nino.schema_version "1", nino.tool_version, nino.task, nino.seed,
 *   nino.config (resolved config JSON), nino.params (JSON [{name, shape, offset, numel}]),
 *   nino.created (ISO time), nino.task_def (the resolved task definition JSON, TaskSpec; files since
 *   task files: absent in older files)
 */
export const TRAJECTORY_SCHEMA_VERSION = 1;
export const METRIC_COLUMNS = ['train_loss', 'val_loss', 'val_acc', 'val_ppl'] as const;
export type MetricName = (typeof METRIC_COLUMNS)[number];

export interface TrajectoryRecord {
  step: number;
  /** flat parameter vector [numParams] */
  params: Float32Array;
  metrics: Partial<Record<MetricName, number>>;
}

export interface TrajectoryMeta {
  task: string;
  seed: number;
  /** resolved config (JSON-able) */
  config: Record<string, unknown>;
  toolVersion: string;
  schemaVersion: number;
  created?: string;
  /** the resolved task definition that made the trajectory (nino.task_def: a TaskSpec of src/tasks/registry.ts, kept untyped here so the file format needs no task code) */
  taskDef?: Record<string, unknown>;
}
