import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { readSafetensors, writeSafetensors } from '../src/core/safetensors.ts';
import { REF } from './helpers/reference.ts';

describe('safetensors', () => {
  it('round-trips tensors and metadata', () => {
    const buf = writeSafetensors(
      {
        a: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4.5]) },
        b: { dtype: 'I32', shape: [3], data: new Int32Array([-1, 0, 7]) },
      },
      { note: 'x' },
    );
    const st = readSafetensors(buf);
    expect(st.order).toEqual(['a', 'b']);
    expect(Array.from(st.tensors.a.data as Float32Array)).toEqual([1, 2, 3, 4.5]);
    expect(Array.from(st.tensors.b.data as Int32Array)).toEqual([-1, 0, 7]);
    expect(st.metadata.note).toBe('x');
  });

  it('rejects a truncated file', () => {
    const buf = writeSafetensors({ a: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    expect(() => readSafetensors(buf.subarray(0, buf.byteLength - 4), 'x.safetensors')).toThrow(/truncated/);
  });

  it('reads the golden graph file', () => {
    const st = readSafetensors(readFileSync(`${REF}/case_a_fm16/graph.safetensors`));
    expect(st.tensors.edge_index.shape).toEqual([2, 2057]);
    expect(st.tensors.edge_type.dtype).toBe('I32');
  });
});
