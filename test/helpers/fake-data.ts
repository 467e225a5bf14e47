/** Writes small datasets in the real on-disk formats (for tests that must not depend on downloads). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../src/core/rng.ts';

/** An IDX ubyte file (MNIST's format): magic 00 00 08 nd, dims as big-endian u32, then the bytes. */
export function idxUbyte(dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

/**
 * Fashion-MNIST-format files (gzipped IDX) with class-dependent patterns, so a conv net can learn them.
 * @returns the folder
 */
export function writeFakeFashionMnist(dir: string, nTrain = 240, nTest = 60, seed = 0): string {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const make = (n: number) => {
    const img = new Uint8Array(n * 784);
    const lab = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % 10;
      lab[i] = c;
      for (let p = 0; p < 784; p++) {
        const r = Math.floor(p / 28);
        const col = p % 28;
        const on = (r + c * 3) % 10 < 5 !== (col + c) % 7 < 3;
        img[i * 784 + p] = Math.max(0, Math.min(255, (on ? 200 : 30) + Math.round(rng.normal() * 20)));
      }
    }
    return { img, lab };
  };
  const tr = make(nTrain);
  const te = make(nTest);
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idxUbyte([nTrain, 28, 28], tr.img)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxUbyte([nTrain], tr.lab)));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idxUbyte([nTest, 28, 28], te.img)));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idxUbyte([nTest], te.lab)));
  return dir;
}
