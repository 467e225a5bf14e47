/**
 * LM1B (One Billion Word benchmark) as token streams, in the official archive layout:
 *   1-billion-word-language-modeling-benchmark-r13output/
 *     training-monolingual.tokenized.shuffled/news.en-000NN-of-00100   (NN = 01..99; one sentence per line)
 *     heldout-monolingual.tokenized.shuffled/news.en.heldout-000NN-of-00050   (NN = 00..49)
 *
 * Tokenization follows the official NiNo train_lm.py (HF run_clm): every sentence is GPT-2-encoded on its
 * own and the ids are concatenated with no separator/EOS. Byte-level instead appends "\n" to each sentence.
 * Validation follows train_lm.py too: HF `lm1b` has no validation split, so it takes the first 5% of the
 * training rows (`valSplit: 'train-head'`, default); `valSplit: 'heldout'` uses the benchmark's heldout
 * shards instead.
 *
 * The full corpus is ~0.8B GPT-2 tokens; `trainShards` (default 1) and `maxTrainTokens` bound how much is
 * read and tokenized on a CPU. Results are cached (token-data.ts).
 *
 * URL and layout from datasets/lm1b.json. Lookup as in fetch.ts (dataset name 'lm1b'); download (1.7 GB, http://www.statmt.org/lm-benchmark/) is
 * streamed to the cache and only the needed shards are extracted. No checksum is published for the
 * archive: pass `archiveSha256`/`archiveMd5` to pin one; otherwise the extracted layout is checked.
 *
 *   const d = await loadLm1b({ trainShards: 1, maxTrainTokens: 5e6 });  // d.train, d.val (GPT-2 ids)
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  DatasetNotFoundError,
  cacheDirFor,
  candidateDirs,
  downloadAllowed,
  downloadFile,
  failIfExplicit,
  findDir,
  verifyDigest,
} from './fetch.ts';
import { datasetManifest } from './manifest.ts';
import { extractTar } from './tar.ts';
import { readTokenCache, tokenCacheKey, writeTokenCache, type CacheOptions, type TokenData } from './token-data.ts';
import { bufferLines, encodeRows, getTokenizer, type TokenizerName } from './tokenize.ts';

const MANIFEST = datasetManifest('lm1b');
const LAYOUT = MANIFEST.layout as { root: string; trainDir: string; heldoutDir: string };
export const LM1B_URL: string = MANIFEST.download!.url!;
export const LM1B_ROOT: string = LAYOUT.root;
export const LM1B_TRAIN_DIR: string = LAYOUT.trainDir;
export const LM1B_HELDOUT_DIR: string = LAYOUT.heldoutDir;

/** training shard k (1..99) */
export const lm1bTrainShard = (k: number) => `${LM1B_TRAIN_DIR}/news.en-${String(k).padStart(5, '0')}-of-00100`;
/** heldout shard k (0..49) */
export const lm1bHeldoutShard = (k: number) =>
  `${LM1B_HELDOUT_DIR}/news.en.heldout-${String(k).padStart(5, '0')}-of-00050`;

export interface Lm1bOptions extends CacheOptions {
  tokenizer?: TokenizerName;
  /** training shards 1..trainShards are read (1..99; default 1) */
  trainShards?: number;
  /** 'train-head' (default, as train_lm.py): the first valFraction of the training rows; 'heldout': heldout shards */
  valSplit?: 'train-head' | 'heldout';
  /** default 0.05 */
  valFraction?: number;
  /** heldout shards 0..heldoutShards-1 for valSplit 'heldout' (default 1) */
  heldoutShards?: number;
  /** stop tokenizing training rows after this many tokens */
  maxTrainTokens?: number;
  archiveMd5?: string;
  archiveSha256?: string;
}

export async function locateLm1b(required: string[], opts: Lm1bOptions): Promise<string[]> {
  const req = required.map((f) => [f]);
  const looked: string[] = [];
  const found = findDir(candidateDirs('lm1b', opts, [LM1B_ROOT]), req, looked);
  if (found) return found.files;
  failIfExplicit('lm1b', opts, looked, required);
  const cache = cacheDirFor('lm1b', opts);
  const archive = join(cache, LM1B_URL.split('/').pop()!);
  const digest = { md5: opts.archiveMd5, sha256: opts.archiveSha256 };
  let downloadError: string | undefined;
  if (downloadAllowed(opts) || existsSync(archive)) {
    try {
      if (existsSync(archive)) await verifyDigest(archive, digest);
      else await downloadFile(LM1B_URL, archive, digest);
      const want = new Set(required.map((r) => `${LM1B_ROOT}/${r}`));
      await extractTar(archive, cache, (n) => want.has(n.replace(/^\.\//, '')));
      const again = findDir([join(cache, LM1B_ROOT)], req);
      if (again) return again.files;
      downloadError = `archive ${archive} lacks some of: ${required.join(', ')}`;
    } catch (e) {
      downloadError = (e as Error).message;
    }
  } else {
    downloadError = 'downloads disabled (download: false or NINO_OFFLINE=1)';
  }
  throw new DatasetNotFoundError(
    'lm1b',
    looked,
    [
      `download ${LM1B_URL} (1.7 GB), extract it, and pass --data-dir <folder holding ${LM1B_ROOT}/> (or set NINO_DATA_DIR)`,
      `or put the .tar.gz at ${archive} (the needed shards are extracted from it)`,
      `or allow a download into ${cache}`,
    ],
    downloadError,
  );
}

/** LM1B train/val token streams (see the module comment for the split). */
export async function loadLm1b(opts: Lm1bOptions = {}): Promise<TokenData> {
  const tokenizer = opts.tokenizer ?? 'gpt2';
  const nTrain = opts.trainShards ?? 1;
  if (!(nTrain >= 1 && nTrain <= 99)) throw new Error(`trainShards must be in 1..99, got ${nTrain}`);
  const valSplit = opts.valSplit ?? 'train-head';
  const nHeld = opts.heldoutShards ?? 1;
  const trainFiles = Array.from({ length: nTrain }, (_, i) => lm1bTrainShard(i + 1));
  const heldFiles = valSplit === 'heldout' ? Array.from({ length: nHeld }, (_, i) => lm1bHeldoutShard(i)) : [];
  const paths = await locateLm1b([...trainFiles, ...heldFiles], opts);
  const valFraction = opts.valFraction ?? 0.05;
  const fingerprint = {
    v: 1,
    tokenizer,
    valSplit,
    valFraction,
    nHeld,
    maxTrainTokens: opts.maxTrainTokens ?? null,
    files: paths.map((p) => [p.split('/').slice(-2).join('/'), statSync(p).size]),
  };
  const key = tokenCacheKey(`lm1b-${tokenizer}`, fingerprint);
  const hit = readTokenCache(key, opts);
  if (hit) return hit;

  const tok = await getTokenizer(tokenizer);
  const suffix = tokenizer === 'byte' ? '\n' : '';
  function* rows(ps: string[]) {
    for (const p of ps) for (const line of bufferLines(readFileSync(p), false)) yield line + suffix;
  }
  let trainRows: Iterable<string> = rows(paths.slice(0, nTrain));
  let valRowsCount: number;
  let val: Int32Array;
  if (valSplit === 'train-head') {
    // count rows first (cheap: newline count), then the first ceil(valFraction * rows) rows are validation
    let total = 0;
    for (const p of paths.slice(0, nTrain)) {
      const b = readFileSync(p);
      for (let i = 0; i < b.length; i++) if (b[i] === 10) total++;
      if (b.length && b[b.length - 1] !== 10) total++;
    }
    valRowsCount = Math.ceil(valFraction * total);
    const it = rows(paths.slice(0, nTrain))[Symbol.iterator]();
    const head: string[] = [];
    for (let i = 0; i < valRowsCount; i++) {
      const r = it.next();
      if (r.done) break;
      head.push(r.value);
    }
    val = encodeRows(tok, head).tokens;
    trainRows = { [Symbol.iterator]: () => it };
  } else {
    const v = encodeRows(tok, rows(paths.slice(nTrain)));
    val = v.tokens;
    valRowsCount = v.rows;
  }
  const tr = encodeRows(tok, trainRows, opts.maxTrainTokens ?? Infinity);
  const d: TokenData = {
    train: tr.tokens,
    val,
    vocabSize: tok.vocabSize,
    tokenizer: tok.name,
    source: paths[0].split('/').slice(0, -2).join('/'),
    docs: { train: tr.rows, val: valRowsCount },
  };
  writeTokenCache(key, d, opts);
  return d;
}
