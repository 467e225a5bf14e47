/**
 * The dataset registry: names map to loaders, vision comes back split the NiNo way, unknown names list
 * the known ones.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATASETS, loadDataset } from '../src/data/index.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'nino-reg-'));
const noSystem = (d: string) => ({ systemRoot: join(d, 'no-system'), cacheDir: join(d, 'cache'), download: false });

describe('dataset registry', () => {
  it('lists the datasets tasks use and rejects unknown names', async () => {
    expect([...DATASETS].sort()).toEqual([
      'cifar10',
      'cifar100',
      'fashion-mnist',
      'lm1b',
      'sotu-bytes',
      'sotu-gpt2',
      'wikitext103',
    ]);
    await expect(loadDataset('mnist')).rejects.toThrow(
      /unknown dataset 'mnist'; known datasets: fashion-mnist, cifar10/,
    );
  });

  it('vision: CIFAR-100 records in a folder come back split (first n - floor(n/12) train)', async () => {
    const d = tmp();
    mkdirSync(join(d, 'cifar-100-binary'));
    const rec = (n: number) =>
      Buffer.concat(
        Array.from({ length: n }, (_, i) => Buffer.concat([Buffer.from([i % 20, i % 100]), Buffer.alloc(3072, i)])),
      );
    writeFileSync(join(d, 'cifar-100-binary', 'train.bin'), rec(24));
    writeFileSync(join(d, 'cifar-100-binary', 'test.bin'), rec(3));
    const r = await loadDataset('cifar100', { dataDir: d, ...noSystem(d) });
    if (r.kind !== 'vision') throw new Error('expected vision');
    expect([r.split.train.count, r.split.val.count, r.split.test.count]).toEqual([22, 2, 3]);
    expect(Array.from(r.split.val.y)).toEqual([22, 23]);
    const h = await loadDataset('cifar100', { dataDir: d, ...noSystem(d), holdout: 0 });
    expect(h.kind === 'vision' && h.split.train.count).toBe(24);
  });

  it('language: sotu-bytes is the byte-level SOTU stream', async () => {
    const d = tmp();
    const r = await loadDataset('sotu-bytes', { cacheDir: join(d, 'cache') });
    if (r.kind !== 'language') throw new Error('expected language');
    expect(r.tokens.vocabSize).toBe(256);
    expect(r.tokens.docs).toEqual({ train: 209, val: 24 });
  });
});
