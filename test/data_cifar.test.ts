/**
 * tar reader/extractor and the CIFAR-10/100 binary readers, on small files written here in the exact
 * official formats (record = label byte(s) + 3072 channel-major pixel bytes).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadCifar10, loadCifar100, parseCifarRecords } from '../src/data/cifar.ts';
import { DatasetNotFoundError } from '../src/data/fetch.ts';
import { extractTar, readTar, TarParser, writeTar } from '../src/data/tar.ts';
import { ninoTrainCount, splitHoldout } from '../src/data/vision.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'nino-cifar-'));
const noSystem = (d: string) => ({ systemRoot: join(d, 'no-system'), cacheDir: join(d, 'cache'), download: false });

/** n records; image i has R plane = (i + p) % 256, G = 100 + label, B = 7; labels from `lab(i)`. */
function records(n: number, lab: (i: number) => number[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(3072);
    for (let p = 0; p < 1024; p++) {
      px[p] = (i + p) % 256;
      px[1024 + p] = 100 + lab(i)[lab(i).length - 1];
      px[2048 + p] = 7;
    }
    parts.push(Buffer.from(lab(i)), px);
  }
  return Buffer.concat(parts);
}

function cifar10Files(): [string, Buffer][] {
  return [
    ...[1, 2, 3, 4, 5].map((b): [string, Buffer] => [
      `cifar-10-batches-bin/data_batch_${b}.bin`,
      records(3, (i) => [(b * 3 + i) % 10]),
    ]),
    ['cifar-10-batches-bin/test_batch.bin', records(4, (i) => [i])],
    ['cifar-10-batches-bin/batches.meta.txt', Buffer.from('airplane\nautomobile\n')],
  ];
}

describe('tar', () => {
  it('round-trips files, directories, long (prefix) names; rejects corrupt headers', () => {
    const long = `${'d'.repeat(120)}/file.bin`;
    const big = Buffer.alloc(1500, 3);
    const t = writeTar([
      { name: 'top', type: 'dir' },
      { name: 'top/a.txt', data: Buffer.from('hello') },
      { name: long, data: big },
      { name: 'empty' },
    ]);
    expect(t.length % 512).toBe(0);
    for (const buf of [t, gzipSync(t)]) {
      const e = readTar(buf);
      expect(e.map((x) => [x.name, x.type, x.size])).toEqual([
        ['top', 'dir', 0],
        ['top/a.txt', 'file', 5],
        [long, 'file', 1500],
        ['empty', 'file', 0],
      ]);
      expect(Buffer.from(e[1].data!).toString()).toBe('hello');
      expect(Buffer.from(e[2].data!).equals(big)).toBe(true);
    }
    const bad = Buffer.from(t);
    bad[10] ^= 0xff;
    expect(() => readTar(bad)).toThrow(/checksum/);
    expect(() => readTar(t.subarray(0, 512 + 100))).toThrow(/truncated/);
    expect(() => readTar(t.subarray(0, 2 * 512 + 2))).toThrow(/truncated/);
    expect(readTar(t.subarray(0, 3 * 512)).length).toBe(2); // no end-of-archive blocks: accepted, like GNU tar
  });

  it('parses GNU long-name (L) and PAX path records, fed one byte at a time', () => {
    const hdr = (name: string, flag: string, size: number) => {
      const h = writeTar([{ name, data: new Uint8Array(size) }]).subarray(0, 512);
      h[156] = flag.charCodeAt(0);
      h.fill(32, 148, 156);
      let s = 0;
      for (const v of h) s += v;
      h.write(`${s.toString(8).padStart(6, '0')}\0 `, 148);
      return h;
    };
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
    const longName = `${'x'.repeat(150)}.txt`;
    const ln = Buffer.from(`${longName}\0`);
    const pax = Buffer.from(`${`30 path=${'p'.repeat(17)}.bin\n`}`);
    expect(pax.length).toBe(30);
    const tarBuf = Buffer.concat([
      hdr('././@LongLink', 'L', ln.length),
      pad(ln),
      hdr('short', '0', 2),
      pad(Buffer.from('ab')),
      hdr('PaxHeader', 'x', pax.length),
      pad(pax),
      hdr('ignored', '0', 1),
      pad(Buffer.from('z')),
      Buffer.alloc(1024),
    ]);
    const names: string[] = [];
    const data: string[] = [];
    const p = new TarParser((e) => {
      names.push(e.name);
      let s = '';
      return { write: (b) => (s += Buffer.from(b).toString()), end: () => data.push(s) };
    });
    for (const byte of tarBuf) p.push(Uint8Array.of(byte));
    p.end();
    expect(names).toEqual([longName, `${'p'.repeat(17)}.bin`]);
    expect(data).toEqual(['ab', 'z']);
  });

  it('extractTar streams a .tar.gz to disk with a filter and refuses escaping paths', async () => {
    const d = tmp();
    const arch = join(d, 'a.tar.gz');
    writeFileSync(
      arch,
      gzipSync(
        writeTar([
          { name: 'x/keep.bin', data: Buffer.from('k') },
          { name: 'x/skip.txt', data: Buffer.from('s') },
        ]),
      ),
    );
    const out = await extractTar(arch, join(d, 'out'), (n) => n.endsWith('.bin'));
    expect(out).toEqual([join(d, 'out', 'x', 'keep.bin')]);
    expect(readFileSync(out[0], 'utf8')).toBe('k');
    expect(existsSync(join(d, 'out', 'x', 'skip.txt'))).toBe(false);
    writeFileSync(arch, writeTar([{ name: '../evil', data: Buffer.from('e') }]));
    await expect(extractTar(arch, join(d, 'out2'))).rejects.toThrow(/outside the destination/);
  });
});

describe('CIFAR binary', () => {
  it('parses records into HWC pixels and the chosen label byte', () => {
    const r = parseCifarRecords(
      records(2, (i) => [i + 3, i + 50]),
      2,
      1,
    );
    expect(Array.from(r.y)).toEqual([50, 51]);
    expect(
      Array.from(
        parseCifarRecords(
          records(2, (i) => [i + 3, i + 50]),
          2,
          0,
        ).y,
      ),
    ).toEqual([3, 4]);
    // image 1, pixel (0,2): R = (1+2)%256, G = 100+51, B = 7
    expect(Array.from(r.x.subarray(3072 + 2 * 3, 3072 + 2 * 3 + 3))).toEqual([3, 151, 7]);
    expect(() => parseCifarRecords(new Uint8Array(3074), 1)).toThrow(/multiple/);
  });

  it('CIFAR-10 from a data folder: 5 train batches + test, NiNo normalization', async () => {
    const d = tmp();
    for (const [n, b] of cifar10Files()) {
      mkdirSync(join(d, 'data', n, '..'), { recursive: true });
      writeFileSync(join(d, 'data', n), b);
    }
    const c = await loadCifar10({ dataDir: join(d, 'data'), ...noSystem(d) });
    expect(c.shape).toEqual([32, 32, 3]);
    expect(c.numClasses).toBe(10);
    expect(c.trainY.length).toBe(15);
    expect(Array.from(c.trainY.slice(0, 6))).toEqual([3, 4, 5, 6, 7, 8]);
    expect(Array.from(c.testY)).toEqual([0, 1, 2, 3]);
    // train image 0 pixel 0: R=0, G=103, B=7
    expect(c.trainX[0]).toBeCloseTo((0 - 0.49139968) / 0.24703233, 5);
    expect(c.trainX[1]).toBeCloseTo((103 / 255 - 0.48215827) / 0.24348505, 5);
    expect(c.trainX[2]).toBeCloseTo((7 / 255 - 0.44653124) / 0.26158768, 5);
    expect(c.source).toBe(join(d, 'data', 'cifar-10-batches-bin'));
    expect(splitHoldout(c).train.count).toBe(ninoTrainCount(15));
  });

  it('CIFAR-100: fine (default) and coarse labels from train.bin/test.bin', async () => {
    const d = tmp();
    mkdirSync(join(d, 'cifar-100-binary'));
    writeFileSync(
      join(d, 'cifar-100-binary', 'train.bin'),
      records(5, (i) => [i, 90 + i]),
    );
    writeFileSync(
      join(d, 'cifar-100-binary', 'test.bin'),
      records(2, (i) => [19, 99 - i]),
    );
    const fine = await loadCifar100({ dataDir: d, ...noSystem(d) });
    expect(fine.numClasses).toBe(100);
    expect(Array.from(fine.trainY)).toEqual([90, 91, 92, 93, 94]);
    expect(Array.from(fine.testY)).toEqual([99, 98]);
    const coarse = await loadCifar100({ dataDir: d, ...noSystem(d), labels: 'coarse' });
    expect(coarse.numClasses).toBe(20);
    expect(Array.from(coarse.trainY)).toEqual([0, 1, 2, 3, 4]);
    writeFileSync(
      join(d, 'cifar-100-binary', 'test.bin'),
      records(1, () => [25, 1]),
    );
    await expect(loadCifar100({ dataDir: d, ...noSystem(d), labels: 'coarse' })).rejects.toThrow(/label 25 >= 20/);
  });

  it('missing offline: lists places; a cached archive with the wrong md5 is rejected', async () => {
    const d = tmp();
    const err = await loadCifar10(noSystem(d)).catch((e) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect(err.message).toContain(join(d, 'no-system', 'cifar10', 'cifar-10-batches-bin'));
    expect(err.message).toContain(join(d, 'cache', 'cifar10'));
    expect(err.message).toContain('cifar-10-binary.tar.gz');
    mkdirSync(join(d, 'cache', 'cifar10'), { recursive: true });
    writeFileSync(
      join(d, 'cache', 'cifar10', 'cifar-10-binary.tar.gz'),
      gzipSync(writeTar(cifar10Files().map(([name, data]) => ({ name, data })))),
    );
    const err2 = await loadCifar10(noSystem(d)).catch((e) => e);
    expect(err2.message).toMatch(/md5 mismatch/);
  });
});
