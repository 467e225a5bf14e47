/**
 * Language data: tokenizers, document joining, the token cache and the State of the Union corpus.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSotu, sotuFiles } from '../src/data/sotu.ts';
import { valDocCount } from '../src/data/token-data.ts';
import { encodeDocuments, getTokenizer } from '../src/data/tokenize.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'nino-text-'));

describe('tokenizers', () => {
  it('byte-level is UTF-8 with vocab 256; gpt2 is r50k_base with vocab 50257', async () => {
    const b = await getTokenizer('byte');
    expect(b.vocabSize).toBe(256);
    expect(Array.from(b.encode('hé'))).toEqual([104, 195, 169]);
    expect(b.decode([104, 195, 169])).toBe('hé');
    const g = await getTokenizer('gpt2');
    expect(g.vocabSize).toBe(50257);
    expect(Array.from(g.encode('Hello world'))).toEqual([15496, 995]);
    // special-token text is plain text, not id 50256
    expect(Array.from(g.encode('<|endoftext|>'))).not.toContain(50256);
    await expect(getTokenizer('llama')).rejects.toThrow(/choose one of: gpt2, byte/);
  });

  it('joins documents: eot after each doc (gpt2), "\\n\\n" between docs (byte)', async () => {
    const g = await getTokenizer('gpt2');
    expect(Array.from(encodeDocuments(g, ['Hello', 'world']))).toEqual([15496, 50256, 6894, 50256]);
    const b = await getTokenizer('byte');
    expect(Array.from(encodeDocuments(b, ['a', 'b']))).toEqual([97, 10, 10, 98]);
  });
});

describe('State of the Union corpus', () => {
  it('splits by document (last 10% = most recent addresses are validation), byte-level', async () => {
    const files = sotuFiles();
    expect(files.length).toBe(233);
    expect(valDocCount(233, 0.1)).toBe(24);
    const cacheDir = tmp();
    const d = await loadSotu({ tokenizer: 'byte', cacheDir });
    expect(d.vocabSize).toBe(256);
    expect(d.docs).toEqual({ train: 209, val: 24 });
    expect(d.train.length + d.val.length).toBeGreaterThan(10_000_000);
    expect(Buffer.from(Uint8Array.from(d.train.subarray(0, 15))).toString()).toBe('Fellow-Citizens');
    let max = 0;
    for (const v of d.val) max = Math.max(max, v);
    expect(max).toBeLessThan(256);
    // cached: files written, and a second load returns the same arrays
    expect(readdirSync(join(cacheDir, 'tokens')).some((f) => f.startsWith('sotu-byte-') && f.endsWith('.bin'))).toBe(
      true,
    );
    const again = await loadSotu({ tokenizer: 'byte', cacheDir });
    expect(again.train.length).toBe(d.train.length);
    expect(Array.from(again.val.subarray(0, 1000))).toEqual(Array.from(d.val.subarray(0, 1000)));
    const other = await loadSotu({ tokenizer: 'byte', cacheDir, valFraction: 0.2 });
    expect(other.docs).toEqual({ train: 186, val: 47 });
  });

  it('GPT-2 BPE: ~2.07M tokens, eot-separated documents', async () => {
    const cacheDir = tmp();
    const d = await loadSotu({ tokenizer: 'gpt2', cacheDir });
    expect(d.vocabSize).toBe(50257);
    const total = d.train.length + d.val.length;
    expect(total).toBeGreaterThan(2_000_000);
    expect(total).toBeLessThan(2_150_000);
    let eots = 0;
    for (const v of d.train) if (v === 50256) eots++;
    expect(eots).toBe(209);
    expect(d.train[d.train.length - 1]).toBe(50256);
    const g = await getTokenizer('gpt2');
    expect(g.decode(d.train.subarray(0, 8)).startsWith('Fellow-Citizens of the')).toBe(true);
    const nocache = await loadSotu({ tokenizer: 'gpt2', cacheDir: join(cacheDir, 'x'), cache: false });
    expect(existsSync(join(cacheDir, 'x'))).toBe(false);
    expect(nocache.val.length).toBe(d.val.length);
  });
});
