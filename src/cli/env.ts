/**
 * The environment variables nino's library options come from. Only the CLI reads the environment
 * (this module, main.ts's commander `.env()` options, the shard and step-summary variables): library
 * modules take every setting as an option from their caller, so a library call does what its options
 * say whatever the shell exports. The README's "Environment variables" table lists them all.
 *
 *   const env = readEnv();
 *   await runBench(suite, { ..., data: { dataDir: o.dataDir, ...env.source }, officialDir: env.officialDir });
 */
import type { SourceOptions } from '../data/fetch.ts';

export interface EnvConfig {
  /** dataset location options: $NINO_DATA_DIR, $NINO_CACHE_DIR, $NINO_OFFLINE */
  source: Pick<SourceOptions, 'dataDirFromEnv' | 'cacheDir' | 'download'>;
  /** $NINO_OFFICIAL_DIR: looked in first for 'official:<name>' nowcasters */
  officialDir?: string;
}

/** NINO_OFFLINE: anything but unset, empty, '0' or 'false' disables downloads. */
export function offlineFromEnv(v: string | undefined): boolean {
  return !!v && v !== '0' && v.toLowerCase() !== 'false';
}

/** The library options the environment gives (empty values count as unset). */
export function readEnv(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const str = (v: string | undefined) => (v ? v : undefined);
  const source: EnvConfig['source'] = {};
  const dataDir = str(env.NINO_DATA_DIR);
  if (dataDir) source.dataDirFromEnv = dataDir;
  const cacheDir = str(env.NINO_CACHE_DIR);
  if (cacheDir) source.cacheDir = cacheDir;
  if (offlineFromEnv(env.NINO_OFFLINE)) source.download = false;
  const officialDir = str(env.NINO_OFFICIAL_DIR);
  return { source, ...(officialDir ? { officialDir } : {}) };
}
