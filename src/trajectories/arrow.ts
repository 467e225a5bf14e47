/**
 * Writes and reads trajectory files (schema in schema.ts) with apache-arrow.
 *
 *   writeTrajectory(path, layout, meta, records)        // atomic
 *   const t = readTrajectory(path); t.records[3].params; t.meta.task
 */
import { InputError } from '../core/errors.ts';
import { readFileSync } from 'node:fs';
import {
  Field,
  FixedSizeList,
  Float32,
  Int32,
  RecordBatch,
  Schema,
  Struct,
  Table,
  makeData,
  tableFromIPC,
  tableToIPC,
} from 'apache-arrow';
import { writeFileAtomic } from '../core/fsutil.ts';
import { makeLayout, type ParamLayout } from '../core/params.ts';
import { METRIC_COLUMNS, TRAJECTORY_SCHEMA_VERSION, type TrajectoryMeta, type TrajectoryRecord } from './schema.ts';

export interface Trajectory {
  meta: TrajectoryMeta;
  layout: ParamLayout;
  records: TrajectoryRecord[];
}

export function trajectoryToIPC(
  layout: ParamLayout,
  meta: TrajectoryMeta,
  records: readonly TrajectoryRecord[],
): Uint8Array {
  const n = records.length;
  const fields: Field[] = [];
  const children: ReturnType<typeof makeData>[] = [];
  const steps = new Int32Array(n);
  records.forEach((r, i) => (steps[i] = r.step));
  fields.push(new Field('step', new Int32(), false));
  children.push(makeData({ type: new Int32(), length: n, nullCount: 0, data: steps }));
  for (const m of METRIC_COLUMNS) {
    const v = new Float32Array(n);
    records.forEach((r, i) => (v[i] = r.metrics[m] ?? NaN));
    fields.push(new Field(m, new Float32(), false));
    children.push(makeData({ type: new Float32(), length: n, nullCount: 0, data: v }));
  }
  for (const e of layout.entries) {
    const flat = new Float32Array(n * e.numel);
    records.forEach((r, i) => {
      if (r.params.length !== layout.total)
        throw new Error(`record at step ${r.step} has ${r.params.length} params, layout has ${layout.total}`);
      flat.set(r.params.subarray(e.offset, e.offset + e.numel), i * e.numel);
    });
    const itemField = new Field('item', new Float32(), false);
    const type = new FixedSizeList(e.numel, itemField);
    fields.push(new Field(e.name, type, false, new Map([['shape', JSON.stringify(e.shape)]])));
    children.push(
      makeData({
        type,
        length: n,
        nullCount: 0,
        child: makeData({ type: new Float32(), length: n * e.numel, nullCount: 0, data: flat }),
      }),
    );
  }
  const md = new Map<string, string>([
    ['nino.schema_version', String(TRAJECTORY_SCHEMA_VERSION)],
    ['nino.tool_version', meta.toolVersion],
    ['nino.task', meta.task],
    ['nino.seed', String(meta.seed)],
    ['nino.config', JSON.stringify(meta.config)],
    ['nino.params', JSON.stringify(layout.entries)],
    ['nino.created', meta.created ?? new Date().toISOString()],
    ...(meta.taskDef ? ([['nino.task_def', JSON.stringify(meta.taskDef)]] as [string, string][]) : []),
  ]);
  const schema = new Schema(fields, md);
  const structData = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  const table = new Table(schema, new RecordBatch(schema, structData));
  return tableToIPC(table, 'file');
}

export function writeTrajectory(
  path: string,
  layout: ParamLayout,
  meta: TrajectoryMeta,
  records: readonly TrajectoryRecord[],
): void {
  writeFileAtomic(path, trajectoryToIPC(layout, meta, records));
}

/** A trajectory file that cannot be read (an input error, exit code 2): the message names the file. */
export class TrajectoryFormatError extends InputError {}

/** Reads a trajectory file; throws TrajectoryFormatError naming the file and what is wrong. */
export function readTrajectory(path: string, opts: { paramsOnly?: boolean } = {}): Trajectory {
  let table: Table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch (e) {
    throw new TrajectoryFormatError(
      `${path}: not a readable Arrow IPC file (${(e as Error).message}); it may be truncated or corrupt`,
    );
  }
  return trajectoryFromTable(table, path, opts);
}

export function trajectoryFromTable(table: Table, path = 'table', _opts: { paramsOnly?: boolean } = {}): Trajectory {
  const md = table.schema.metadata;
  const ver = Number(md.get('nino.schema_version'));
  if (!md.has('nino.schema_version'))
    throw new TrajectoryFormatError(`${path}: not a nino trajectory (no nino.schema_version in schema metadata)`);
  if (ver !== TRAJECTORY_SCHEMA_VERSION) {
    throw new TrajectoryFormatError(
      `${path}: trajectory schema version ${ver}, this nino reads version ${TRAJECTORY_SCHEMA_VERSION}`,
    );
  }
  const entries = JSON.parse(md.get('nino.params') ?? '[]') as { name: string; shape: number[] }[];
  const layout = makeLayout(entries);
  const meta: TrajectoryMeta = {
    task: md.get('nino.task') ?? '',
    seed: Number(md.get('nino.seed')),
    config: JSON.parse(md.get('nino.config') ?? '{}'),
    toolVersion: md.get('nino.tool_version') ?? '',
    schemaVersion: ver,
    created: md.get('nino.created'),
    ...(md.has('nino.task_def') ? { taskDef: JSON.parse(md.get('nino.task_def')!) } : {}),
  };
  const n = table.numRows;
  const stepCol = table.getChild('step');
  if (!stepCol) throw new TrajectoryFormatError(`${path}: missing column 'step'`);
  const records: TrajectoryRecord[] = [];
  for (let i = 0; i < n; i++)
    records.push({ step: Number(stepCol.get(i)), params: new Float32Array(layout.total), metrics: {} });
  for (const m of METRIC_COLUMNS) {
    const col = table.getChild(m);
    if (!col) continue;
    for (let i = 0; i < n; i++) {
      const v = Number(col.get(i));
      if (!Number.isNaN(v)) records[i].metrics[m] = v;
    }
  }
  for (const e of layout.entries) {
    const col = table.getChild(e.name);
    if (!col) throw new TrajectoryFormatError(`${path}: missing parameter column '${e.name}'`);
    let row = 0;
    for (const chunk of col.data) {
      const values = chunk.children[0].values as Float32Array;
      const base = chunk.children[0].offset + chunk.offset * e.numel;
      for (let i = 0; i < chunk.length; i++, row++) {
        records[row].params.set(values.subarray(base + i * e.numel, base + (i + 1) * e.numel), e.offset);
      }
    }
  }
  return { meta, layout, records };
}
