/**
 * Language data as train/val token streams (TokenData), built from document lists and kept in an
 * on-disk cache of tokenized arrays: <cacheRoot>/tokens/<key>.bin (+ .json metadata); pass
 * `cache: false` to skip. Measured here (2 cores): GPT-2 BPE of the SOTU corpus (2.07M tokens) ~1.0 s
 * cold, byte-level ~0.2 s; reading either from the cache ~20-70 ms.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, type SourceOptions } from './fetch.ts';
import { encodeDocuments, getTokenizer, type TokenizerName } from './tokenize.ts';

/** Token streams. train/val are token ids in [0, vocabSize). */
export interface TokenData {
  train: Int32Array;
  val: Int32Array;
  vocabSize: number;
  tokenizer: TokenizerName;
  /** where the text came from */
  source: string;
  /** documents (or lines/shards) per split */
  docs: { train: number; val: number };
}

export interface CacheOptions extends SourceOptions {
  /** read/write the tokenized cache (default true) */
  cache?: boolean;
}

/** Cache key for a dataset build: readable prefix + hash of everything that determines the tokens. */
export function tokenCacheKey(prefix: string, fingerprint: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(fingerprint)).digest('hex').slice(0, 16);
  return `${prefix}-${h}`;
}

/** Reads cached token data, or null. */
export function readTokenCache(key: string, opts: CacheOptions = {}): TokenData | null {
  if (opts.cache === false) return null;
  const dir = join(cacheRoot(opts), 'tokens');
  const metaPath = join(dir, `${key}.json`);
  const binPath = join(dir, `${key}.bin`);
  if (!existsSync(metaPath) || !existsSync(binPath)) return null;
  try {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    const buf = readFileSync(binPath);
    if (buf.byteLength !== 4 * (meta.trainLen + meta.valLen)) return null;
    const all = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    return {
      train: all.subarray(0, meta.trainLen),
      val: all.subarray(meta.trainLen),
      vocabSize: meta.vocabSize,
      tokenizer: meta.tokenizer,
      source: meta.source,
      docs: meta.docs,
    };
  } catch {
    return null;
  }
}

/** Writes token data to the cache (atomic rename); failures to write are ignored (read-only disks). */
export function writeTokenCache(key: string, d: TokenData, opts: CacheOptions = {}): void {
  if (opts.cache === false) return;
  const dir = join(cacheRoot(opts), 'tokens');
  try {
    mkdirSync(dir, { recursive: true });
    const all = new Int32Array(d.train.length + d.val.length);
    all.set(d.train, 0);
    all.set(d.val, d.train.length);
    const tmp = join(dir, `${key}.bin.${process.pid}.tmp`);
    writeFileSync(tmp, Buffer.from(all.buffer, all.byteOffset, all.byteLength));
    renameSync(tmp, join(dir, `${key}.bin`));
    const meta = {
      trainLen: d.train.length,
      valLen: d.val.length,
      vocabSize: d.vocabSize,
      tokenizer: d.tokenizer,
      source: d.source,
      docs: d.docs,
    };
    writeFileSync(join(dir, `${key}.json`), JSON.stringify(meta, null, 1));
  } catch {
    /* cache is an optimisation only */
  }
}

/** Builds (or reads from cache) train/val token streams from document lists. */
export async function buildTokenData(
  args: {
    key: string;
    tokenizer: TokenizerName;
    source: string;
    trainDocs: () => Iterable<string>;
    valDocs: () => Iterable<string>;
    docCounts: { train: number; val: number };
  },
  opts: CacheOptions = {},
): Promise<TokenData> {
  const hit = readTokenCache(args.key, opts);
  if (hit) return hit;
  const tok = await getTokenizer(args.tokenizer);
  const d: TokenData = {
    train: encodeDocuments(tok, args.trainDocs()),
    val: encodeDocuments(tok, args.valDocs()),
    vocabSize: tok.vocabSize,
    tokenizer: tok.name,
    source: args.source,
    docs: args.docCounts,
  };
  writeTokenCache(args.key, d, opts);
  return d;
}

/** Number of validation documents for n documents: ceil(valFraction * n), at least 1, at most n-1. */
export function valDocCount(n: number, valFraction: number): number {
  return Math.min(n - 1, Math.max(1, Math.ceil(valFraction * n)));
}
