import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { makeLayout } from '../src/core/params.ts';
import { Rng } from '../src/core/rng.ts';
import { readTrajectory, writeTrajectory } from '../src/trajectories/arrow.ts';

const layout = makeLayout([
  { name: 'fc.0.weight', shape: [3, 2] },
  { name: 'fc.0.bias', shape: [3] },
]);
const meta = { task: 'T', seed: 7, config: { lr: 0.1 }, toolVersion: '0.0.0', schemaVersion: 1 };

function records(n: number) {
  const rng = new Rng(1);
  return Array.from({ length: n }, (_, i) => ({
    step: i * 10,
    params: Float32Array.from({ length: layout.total }, () => rng.normal()),
    metrics: i === 0 ? { val_acc: 10 } : { train_loss: 1 / (i + 1), val_acc: 50 + i },
  }));
}

describe('trajectory Arrow files', () => {
  it('round-trips params, steps, metrics and metadata', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nino-arrow-'));
    const recs = records(4);
    writeTrajectory(join(dir, 't.arrow'), layout, meta, recs);
    const t = readTrajectory(join(dir, 't.arrow'));
    expect(t.meta.task).toBe('T');
    expect(t.meta.seed).toBe(7);
    expect(t.meta.config).toEqual({ lr: 0.1 });
    expect(t.layout.entries.map((e) => e.name)).toEqual(['fc.0.weight', 'fc.0.bias']);
    expect(t.records.map((r) => r.step)).toEqual([0, 10, 20, 30]);
    for (let i = 0; i < 4; i++) expect(Array.from(t.records[i].params)).toEqual(Array.from(recs[i].params));
    expect(t.records[0].metrics.train_loss).toBeUndefined();
    expect(t.records[2].metrics.train_loss).toBeCloseTo(1 / 3, 6);
  });

  it('is readable by a plain Arrow reader with named, shaped parameter columns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nino-arrow-'));
    writeTrajectory(join(dir, 't.arrow'), layout, meta, records(2));
    const table = tableFromIPC(readFileSync(join(dir, 't.arrow')));
    expect(table.numRows).toBe(2);
    const f = table.schema.fields.find((x) => x.name === 'fc.0.weight')!;
    expect(JSON.parse(f.metadata.get('shape')!)).toEqual([3, 2]);
    expect(table.schema.metadata.get('nino.schema_version')).toBe('1');
  });

  it('rejects a truncated file with a message naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nino-arrow-'));
    const p = join(dir, 't.arrow');
    writeTrajectory(p, layout, meta, records(3));
    const buf = readFileSync(p);
    writeFileSync(p, buf.subarray(0, Math.floor(buf.byteLength / 2)));
    expect(() => readTrajectory(p)).toThrow(/t\.arrow/);
  });
});
