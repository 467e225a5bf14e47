/** Locates ../shared/reference (golden data from the official PyTorch NiNo); tests read it in place. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, type Safetensors } from '../../src/core/safetensors.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REF = process.env.NINO_REFERENCE_DIR ?? join(root, '..', 'shared', 'reference');
if (!existsSync(REF)) throw new Error(`golden data not found at ${REF}; set NINO_REFERENCE_DIR`);

export function refSt(rel: string): Safetensors {
  return readSafetensors(readFileSync(join(REF, rel)), rel);
}
export function refJson<T = any>(rel: string): T {
  return JSON.parse(readFileSync(join(REF, rel), 'utf8')) as T;
}
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
