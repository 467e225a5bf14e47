/**
 * WikiText-103 as token streams. Accepted layouts (in a data folder, or extracted into the cache):
 *   wikitext-103-raw/wiki.{train,valid,test}.raw      (wikitext-103-raw-v1.zip; what the official NiNo uses)
 *   wikitext-103/wiki.{train,valid,test}.tokens       (wikitext-103-v1.zip)
 *   or the files directly in the folder. The raw layout is preferred when both exist (`variant` overrides).
 *
 * Rows follow Hugging Face's `wikitext` builder as used by the official train_lm.py: every line is a row
 * *with* its trailing "\n", blank lines become empty rows; each row is GPT-2-encoded on its own and the ids
 * are concatenated (no EOS). Byte-level: the same rows' UTF-8 bytes. Train = wiki.train.*, val = wiki.valid.*.
 * `maxTrainTokens` bounds the (~120M-token) training stream on a CPU. Results are cached (token-data.ts).
 *
 * URLs and layouts from datasets/wikitext103.json. Download: the zip (HF mirror of the Salesforce release, 191,984,949 bytes for raw-v1) into the cache,
 * then the three files are extracted with src/core/zip.ts (CRC-checked). Pin a checksum with `archiveSha256`.
 *
 *   const d = await loadWikitext103({ maxTrainTokens: 10e6 });
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
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
import { readTokenCache, tokenCacheKey, writeTokenCache, type CacheOptions, type TokenData } from './token-data.ts';
import { bufferLines, encodeRows, getTokenizer, type TokenizerName } from './tokenize.ts';
import { listZip, readZipEntry } from '../core/zip.ts';

type Variant = { url: string; folder: string; ext: string };
const LAYOUT = datasetManifest('wikitext103').variants as { raw: Variant; tokens: Variant };
export const WIKITEXT103_URLS = { raw: LAYOUT.raw.url, tokens: LAYOUT.tokens.url } as const;

export interface WikitextOptions extends CacheOptions {
  tokenizer?: TokenizerName;
  /** 'raw' (default, as the official NiNo) or 'tokens' */
  variant?: 'raw' | 'tokens';
  maxTrainTokens?: number;
  archiveSha256?: string;
}

export async function locateWikitext103(
  opts: WikitextOptions = {},
): Promise<{ train: string; valid: string; variant: 'raw' | 'tokens' }> {
  const variants: ('raw' | 'tokens')[] = opts.variant ? [opts.variant] : ['raw', 'tokens'];
  const looked: string[] = [];
  for (const variant of variants) {
    const { folder, ext } = LAYOUT[variant];
    const f = findDir(
      candidateDirs('wikitext103', opts, [folder]),
      [[`wiki.train.${ext}`], [`wiki.valid.${ext}`]],
      looked,
    );
    if (f) return { train: f.files[0], valid: f.files[1], variant };
  }
  failIfExplicit(
    'wikitext103',
    opts,
    looked,
    variants.map((v) => `${LAYOUT[v].folder}/wiki.{train,valid}.${LAYOUT[v].ext}`),
  );
  const variant = variants[0];
  const { folder, ext } = LAYOUT[variant];
  const cache = cacheDirFor('wikitext103', opts);
  const url = WIKITEXT103_URLS[variant];
  const archive = join(cache, url.split('/').pop()!);
  let downloadError: string | undefined;
  if (downloadAllowed(opts) || existsSync(archive)) {
    try {
      if (existsSync(archive)) await verifyDigest(archive, { sha256: opts.archiveSha256 });
      else await downloadFile(url, archive, { sha256: opts.archiveSha256 });
      const zip = readFileSync(archive);
      for (const e of listZip(zip, archive)) {
        const base = e.name.split('/').pop()!;
        if (!/^wiki\.(train|valid|test)\./.test(base) || e.name.endsWith('/')) continue;
        mkdirSync(join(cache, folder), { recursive: true });
        writeFileSync(join(cache, folder, base), readZipEntry(zip, e, archive));
      }
      const again = findDir([join(cache, folder)], [[`wiki.train.${ext}`], [`wiki.valid.${ext}`]]);
      if (again) return { train: again.files[0], valid: again.files[1], variant };
      downloadError = `archive ${archive} lacks ${folder}/wiki.{train,valid}.${ext}`;
    } catch (e) {
      downloadError = (e as Error).message;
    }
  } else {
    downloadError = 'downloads disabled (download: false or NINO_OFFLINE=1)';
  }
  throw new DatasetNotFoundError(
    'wikitext103',
    looked,
    [
      `download ${url}, unzip it, and pass --data-dir <folder holding ${folder}/> (or set NINO_DATA_DIR)`,
      `or put the zip at ${archive} (it is extracted)`,
      `or allow a download into ${cache}`,
    ],
    downloadError,
  );
}

/** WikiText-103 train/valid token streams. */
export async function loadWikitext103(opts: WikitextOptions = {}): Promise<TokenData> {
  const tokenizer = opts.tokenizer ?? 'gpt2';
  const { train, valid, variant } = await locateWikitext103(opts);
  const fingerprint = {
    v: 1,
    tokenizer,
    variant,
    maxTrainTokens: opts.maxTrainTokens ?? null,
    files: [train, valid].map((p) => [p.split('/').slice(-2).join('/'), statSync(p).size]),
  };
  const key = tokenCacheKey(`wikitext103-${variant}-${tokenizer}`, fingerprint);
  const hit = readTokenCache(key, opts);
  if (hit) return hit;
  const tok = await getTokenizer(tokenizer);
  // HF rows: each line with its "\n"; whitespace-only lines become "" (dropped by encodeRows)
  const rows = function* (p: string) {
    for (const line of bufferLines(readFileSync(p), true)) yield line.trim() ? line : '';
  };
  const tr = encodeRows(tok, rows(train), opts.maxTrainTokens ?? Infinity);
  const va = encodeRows(tok, rows(valid));
  const d: TokenData = {
    train: tr.tokens,
    val: va.tokens,
    vocabSize: tok.vocabSize,
    tokenizer: tok.name,
    source: train.split('/').slice(0, -1).join('/'),
    docs: { train: tr.rows, val: va.rows },
  };
  writeTokenCache(key, d, opts);
  return d;
}
