/**
 * The dataset registry: every dataset nino reads, by the name tasks use, with one loader each. Vision
 * datasets come back already split the official NiNo way (first n - floor(n/12) train, rest held out, test
 * set for accuracy); language datasets as train/val token streams. Unknown names fail listing valid ones.
 *
 *   const d = await loadDataset('fashion-mnist', { dataDir });  // { kind: 'vision', split, data }
 *   const t = await loadDataset('sotu-bytes');                   // { kind: 'language', tokens }
 */
import { loadCifar10, loadCifar100 } from './cifar.ts';
import { loadFashionMnist } from './fashion_mnist.ts';
import type { SourceOptions } from './fetch.ts';
import { loadLm1b, type Lm1bOptions } from './lm1b.ts';
import { loadSotu } from './sotu.ts';
import type { CacheOptions, TokenData } from './token-data.ts';
import type { TokenizerName } from './tokenize.ts';
import { splitHoldout, type Normalization, type VisionData, type VisionSplit } from './vision.ts';
import { loadWikitext103, type WikitextOptions } from './wikitext.ts';

export type VisionDatasetName = 'fashion-mnist' | 'cifar10' | 'cifar100';
export type LanguageDatasetName = 'sotu-bytes' | 'sotu-gpt2' | 'lm1b' | 'wikitext103';
export type DatasetName = VisionDatasetName | LanguageDatasetName;

export interface DatasetOptions extends SourceOptions, CacheOptions {
  /** vision: normalization (default 'nino') */
  normalize?: Normalization;
  /** vision: held-out count override (default floor(n/12)) */
  holdout?: number;
  /** language: tokenizer override for lm1b / wikitext103 (default gpt2) */
  tokenizer?: TokenizerName;
  /** language: bound on training tokens (lm1b, wikitext103) */
  maxTrainTokens?: number;
  /** lm1b only */
  lm1b?: Omit<Lm1bOptions, keyof SourceOptions | 'cache'>;
  /** wikitext103 only */
  wikitext?: Omit<WikitextOptions, keyof SourceOptions | 'cache'>;
}

export type LoadedDataset =
  | { kind: 'vision'; name: VisionDatasetName; data: VisionData; split: VisionSplit }
  | { kind: 'language'; name: LanguageDatasetName; tokens: TokenData };

const VISION: Record<VisionDatasetName, (o: DatasetOptions) => Promise<VisionData>> = {
  'fashion-mnist': (o) => loadFashionMnist(o),
  cifar10: (o) => loadCifar10(o),
  cifar100: (o) => loadCifar100(o),
};

const LANGUAGE: Record<LanguageDatasetName, (o: DatasetOptions) => Promise<TokenData>> = {
  'sotu-bytes': (o) => loadSotu({ ...o, tokenizer: 'byte' }),
  'sotu-gpt2': (o) => loadSotu({ ...o, tokenizer: 'gpt2' }),
  lm1b: (o) => loadLm1b({ ...o, ...o.lm1b }),
  wikitext103: (o) => loadWikitext103({ ...o, ...o.wikitext }),
};

export const DATASETS: readonly DatasetName[] = [...Object.keys(VISION), ...Object.keys(LANGUAGE)] as DatasetName[];

export function isVisionDataset(name: string): name is VisionDatasetName {
  return Object.hasOwn(VISION, name);
}

/** Loads a dataset by name (see the module comment). */
export async function loadDataset(name: DatasetName | string, opts: DatasetOptions = {}): Promise<LoadedDataset> {
  if (isVisionDataset(name)) {
    const data = await VISION[name](opts);
    return { kind: 'vision', name, data, split: splitHoldout(data, { holdout: opts.holdout }) };
  }
  if (Object.hasOwn(LANGUAGE, name)) {
    const n = name as LanguageDatasetName;
    return { kind: 'language', name: n, tokens: await LANGUAGE[n](opts) };
  }
  throw new Error(`unknown dataset '${name}'; known datasets: ${DATASETS.join(', ')}`);
}

export * from './batching.ts';
export * from './cifar.ts';
export * from './fashion_mnist.ts';
export * from './fetch.ts';
export * from './files.ts';
export * from './lm1b.ts';
export * from './tar.ts';
export * from './sotu.ts';
export * from './token-data.ts';
export * from './tokenize.ts';
export * from './vision.ts';
export * from './wikitext.ts';
export * from '../core/zip.ts';
