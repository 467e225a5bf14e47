/**
 * LM1B and WikiText-103 loaders on small files in the official layouts (plain folders, and the archives
 * placed in the cache), the zip reader, and checksummed downloads from a local HTTP server.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DatasetNotFoundError, downloadFile } from '../src/data/fetch.ts';
import { LM1B_ROOT, lm1bHeldoutShard, lm1bTrainShard, loadLm1b } from '../src/data/lm1b.ts';
import { writeTar } from '../src/data/tar.ts';
import { getTokenizer } from '../src/data/tokenize.ts';
import { loadWikitext103 } from '../src/data/wikitext.ts';
import { crc32, listZip, readZipEntry, writeZip } from '../src/core/zip.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'nino-lm-'));
const noSystem = (d: string) => ({ systemRoot: join(d, 'no-system'), cacheDir: join(d, 'cache'), download: false });

const sentences = (shard: number, n: number) =>
  Array.from({ length: n }, (_, i) => `Sentence ${i} of shard ${shard} , with tokens .`);

function writeLm1b(root: string): void {
  for (const [k, n] of [
    [1, 40],
    [2, 20],
  ]) {
    const p = join(root, LM1B_ROOT, lm1bTrainShard(k));
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, `${sentences(k, n).join('\n')}\n`);
  }
  const h = join(root, LM1B_ROOT, lm1bHeldoutShard(0));
  mkdirSync(join(h, '..'), { recursive: true });
  writeFileSync(h, `${['Held out one .', 'Held out two .'].join('\n')}\n`);
}

async function concatEncode(rows: string[]): Promise<number[]> {
  const g = await getTokenizer('gpt2');
  return rows.flatMap((r) => Array.from(g.encode(r)));
}

describe('LM1B', () => {
  it('train-head validation (first 5% of training rows), rows encoded separately and concatenated', async () => {
    const d = tmp();
    writeLm1b(join(d, 'data'));
    const lm = await loadLm1b({ dataDir: join(d, 'data'), trainShards: 2, ...noSystem(d) });
    const all = [...sentences(1, 40), ...sentences(2, 20)];
    expect(lm.docs).toEqual({ train: 57, val: 3 });
    expect(lm.vocabSize).toBe(50257);
    expect(Array.from(lm.val)).toEqual(await concatEncode(all.slice(0, 3)));
    expect(Array.from(lm.train)).toEqual(await concatEncode(all.slice(3)));
    // only shard 1 by default
    const one = await loadLm1b({ dataDir: join(d, 'data'), ...noSystem(d) });
    expect(one.docs).toEqual({ train: 38, val: 2 });
  });

  it('heldout validation, byte-level rows with "\\n", maxTrainTokens, cache', async () => {
    const d = tmp();
    writeLm1b(join(d, 'data'));
    const lm = await loadLm1b({ dataDir: join(d, 'data'), valSplit: 'heldout', tokenizer: 'byte', ...noSystem(d) });
    expect(Buffer.from(Uint8Array.from(lm.val)).toString()).toBe('Held out one .\nHeld out two .\n');
    expect(Buffer.from(Uint8Array.from(lm.train)).toString()).toBe(`${sentences(1, 40).join('\n')}\n`);
    const capped = await loadLm1b({
      dataDir: join(d, 'data'),
      valSplit: 'heldout',
      maxTrainTokens: 30,
      ...noSystem(d),
    });
    expect(capped.train.length).toBeGreaterThanOrEqual(30);
    expect(capped.train.length).toBeLessThan(30 + 20);
    const again = await loadLm1b({ dataDir: join(d, 'data'), valSplit: 'heldout', maxTrainTokens: 30, ...noSystem(d) });
    expect(Array.from(again.train)).toEqual(Array.from(capped.train));
    expect(existsSync(join(d, 'cache', 'tokens'))).toBe(true);
  });

  it('extracts the needed shards from the archive in the cache; wrong pinned md5 fails; missing lists places', async () => {
    const d = tmp();
    const src = join(d, 'src');
    writeLm1b(src);
    const files = [lm1bTrainShard(1), lm1bTrainShard(2), lm1bHeldoutShard(0)].map((f) => ({
      name: `${LM1B_ROOT}/${f}`,
      data: readFileSync(join(src, LM1B_ROOT, f)),
    }));
    mkdirSync(join(d, 'cache', 'lm1b'), { recursive: true });
    const arch = join(d, 'cache', 'lm1b', '1-billion-word-language-modeling-benchmark-r13output.tar.gz');
    writeFileSync(arch, gzipSync(writeTar(files)));
    const bad = await loadLm1b({ ...noSystem(d), archiveMd5: '0'.repeat(32) }).catch((e) => e);
    expect(bad.message).toMatch(/md5 mismatch/);
    const lm = await loadLm1b(noSystem(d));
    expect(lm.docs).toEqual({ train: 38, val: 2 });
    expect(existsSync(join(d, 'cache', 'lm1b', LM1B_ROOT, lm1bTrainShard(1)))).toBe(true);
    expect(existsSync(join(d, 'cache', 'lm1b', LM1B_ROOT, lm1bTrainShard(2)))).toBe(false);

    const e = tmp();
    const err = await loadLm1b(noSystem(e)).catch((x) => x);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect(err.message).toContain(join(e, 'no-system', 'lm1b', LM1B_ROOT));
    expect(err.message).toContain('statmt.org');
    await expect(loadLm1b({ trainShards: 100 })).rejects.toThrow(/1\.\.99/);
  });
});

const WIKI_TRAIN =
  ' \n = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 is a game .\n It was released in 2011 .\n';
const WIKI_VALID = ' \n = Homarus gammarus = \n \n Homarus gammarus is a lobster .\n';

describe('WikiText-103', () => {
  it('HF rows: each line with its newline, blank lines dropped, encoded separately', async () => {
    const d = tmp();
    mkdirSync(join(d, 'data', 'wikitext-103-raw'), { recursive: true });
    writeFileSync(join(d, 'data', 'wikitext-103-raw', 'wiki.train.raw'), WIKI_TRAIN);
    writeFileSync(join(d, 'data', 'wikitext-103-raw', 'wiki.valid.raw'), WIKI_VALID);
    const w = await loadWikitext103({ dataDir: join(d, 'data'), ...noSystem(d) });
    expect(w.docs).toEqual({ train: 5, val: 4 });
    expect(Array.from(w.train)).toEqual(
      await concatEncode([
        ' = Valkyria Chronicles III = \n',
        ' Senjō no Valkyria 3 is a game .\n',
        ' It was released in 2011 .\n',
      ]),
    );
    const g = await getTokenizer('gpt2');
    expect(g.decode(w.val)).toBe(' = Homarus gammarus = \n Homarus gammarus is a lobster .\n');
    // the tokenized variant in its own folder
    mkdirSync(join(d, 'tok', 'wikitext-103'), { recursive: true });
    writeFileSync(join(d, 'tok', 'wikitext-103', 'wiki.train.tokens'), WIKI_TRAIN.replace('2011', '<unk>'));
    writeFileSync(join(d, 'tok', 'wikitext-103', 'wiki.valid.tokens'), WIKI_VALID);
    const t = await loadWikitext103({ dataDir: join(d, 'tok'), tokenizer: 'byte', ...noSystem(d) });
    expect(Buffer.from(Uint8Array.from(t.train)).toString()).toContain('<unk>');
  });

  it('extracts wiki.*.raw from the zip in the cache; missing lists places', async () => {
    const d = tmp();
    mkdirSync(join(d, 'cache', 'wikitext103'), { recursive: true });
    writeFileSync(
      join(d, 'cache', 'wikitext103', 'wikitext-103-raw-v1.zip'),
      writeZip([
        { name: 'wikitext-103-raw/wiki.train.raw', data: Buffer.from(WIKI_TRAIN) },
        { name: 'wikitext-103-raw/wiki.valid.raw', data: Buffer.from(WIKI_VALID) },
        { name: 'wikitext-103-raw/wiki.test.raw', data: Buffer.from(WIKI_VALID) },
      ]),
    );
    const w = await loadWikitext103(noSystem(d));
    expect(w.docs.val).toBe(4);
    expect(readFileSync(join(d, 'cache', 'wikitext103', 'wikitext-103-raw', 'wiki.train.raw'), 'utf8')).toBe(
      WIKI_TRAIN,
    );
    const e = tmp();
    const err = await loadWikitext103(noSystem(e)).catch((x) => x);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect(err.message).toContain(join(e, 'cache', 'wikitext103', 'wikitext-103-raw'));
    expect(err.message).toContain(join(e, 'cache', 'wikitext103', 'wikitext-103'));
    expect(err.message).toContain('wikitext-103-raw-v1.zip');
  });
});

describe('zip', () => {
  it('lists and inflates entries; detects CRC corruption', () => {
    const data = Buffer.from('hello hello hello hello zip'.repeat(20));
    const z = writeZip([
      { name: 'a/b.txt', data },
      { name: 'c', data: Buffer.alloc(0) },
    ]);
    const es = listZip(z);
    expect(es.map((e) => [e.name, e.size, e.method])).toEqual([
      ['a/b.txt', data.length, 8],
      ['c', 0, 8],
    ]);
    expect(readZipEntry(z, es[0]).equals(data)).toBe(true);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(() => readZipEntry(z, { ...es[0], crc32: (es[0].crc32 ^ 1) >>> 0 })).toThrow(/CRC/);
    expect(() => listZip(Buffer.from('not a zip at all, definitely not'))).toThrow(/not a zip/);
  });
});

describe('downloadFile', () => {
  it('streams from HTTP, verifies md5/sha256, removes the file on mismatch', async () => {
    const body = Buffer.from('dataset bytes '.repeat(1000));
    const server = createServer((req, res) => {
      if (req.url === '/f.bin') res.end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const d = tmp();
      const md5 = createHash('md5').update(body).digest('hex');
      const sha = createHash('sha256').update(body).digest('hex');
      await downloadFile(`${base}/f.bin`, join(d, 'x', 'f.bin'), { md5, sha256: sha });
      expect(readFileSync(join(d, 'x', 'f.bin')).equals(body)).toBe(true);
      await expect(downloadFile(`${base}/f.bin`, join(d, 'g.bin'), { md5: '0'.repeat(32) })).rejects.toThrow(
        /md5 mismatch/,
      );
      expect(existsSync(join(d, 'g.bin'))).toBe(false);
      expect(existsSync(join(d, 'g.bin.part'))).toBe(false);
      await expect(downloadFile(`${base}/missing`, join(d, 'h.bin'))).rejects.toThrow(/HTTP 404/);
      await expect(downloadFile('http://127.0.0.1:1/x', join(d, 'i.bin'))).rejects.toThrow(/cannot fetch/);
    } finally {
      server.close();
    }
  });
});
