/**
 * `nino data fetch`: makes a dataset available before a long run needs it, saying what it does. In order:
 *   1. already there (the explicit location when one is given, else the search list of fetch.ts): done;
 *   2. download from the manifest's official source into the cache, checksum-verified (not with
 *      NINO_OFFLINE=1, and never into an explicit location: that is the user's folder);
 *   3. the Debian package named by the manifest (`apt-get install -y <package>`): run when this process
 *      is root, otherwise the error prints the exact command to run.
 * Sources, commands and root-ness are parameters, so tests run every branch without network or root.
 *
 *   const r = await fetchDataset('fashion-mnist', { say: console.error });   // r.how: 'present' | 'downloaded' | 'debian'
 */
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { InputError } from '../core/errors.ts';
import { locateCifar, CIFAR10_SOURCE, CIFAR100_SOURCE } from './cifar.ts';
import { locateFashionMnist, type LocateOptions } from './fashion_mnist.ts';
import { DataDirError, DatasetNotFoundError, downloadAllowed, systemDirFor } from './fetch.ts';
import { locateLm1b, lm1bTrainShard } from './lm1b.ts';
import { datasetManifest, manifestNames, type DatasetManifest } from './manifest.ts';
import { locateWikitext103 } from './wikitext.ts';

/** One way to find (and, with download allowed, download) a dataset's files; returns their paths. */
type Locator = (o: LocateOptions) => Promise<string[]>;

const LOCATORS: Record<string, Locator> = {
  'fashion-mnist': (o) => locateFashionMnist(o),
  cifar10: (o) => locateCifar(CIFAR10_SOURCE, o),
  cifar100: (o) => locateCifar(CIFAR100_SOURCE, o),
  lm1b: (o) => locateLm1b([lm1bTrainShard(1)], o),
  wikitext103: async (o) => {
    const w = await locateWikitext103(o);
    return [w.train, w.valid];
  },
};

export interface FetchDatasetOptions extends LocateOptions {
  /** progress lines for the user (default: none) */
  say?: (line: string) => void;
  /** whether this process may run apt-get (default: running as root) */
  isRoot?: boolean;
  /** runs a command with its output shown, returns the exit status (default: spawnSync, inherited stdio) */
  run?: (cmd: string, args: string[]) => number;
}

export interface FetchDatasetResult {
  name: string;
  how: 'present' | 'downloaded' | 'debian';
  files: string[];
}

const defaultRun = (cmd: string, args: string[]): number => {
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 2, 2],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.error ? 127 : (r.status ?? 1);
};

/** Names `nino data fetch` accepts (every manifest with a way to get the files). */
export function fetchableDatasets(): string[] {
  return manifestNames().filter((n) => n in LOCATORS || datasetManifest(n).npmPackage);
}

/** Makes dataset `name` available (see the module comment); throws with what to do when it cannot. */
export async function fetchDataset(name: string, o: FetchDatasetOptions = {}): Promise<FetchDatasetResult> {
  const say = o.say ?? (() => {});
  if (!manifestNames().includes(name))
    throw new InputError(`unknown dataset '${name}'; known: ${fetchableDatasets().join(', ')}`);
  const m: DatasetManifest = o.manifest ?? datasetManifest(name);
  if (m.npmPackage && !(name in LOCATORS)) {
    say(`${name}: comes with the npm package ${m.npmPackage} (installed by npm ci), nothing to fetch`);
    return { name, how: 'present', files: [] };
  }
  const locate = LOCATORS[name];
  const opts: LocateOptions = { ...o, manifest: m };
  try {
    const files = await locate({ ...opts, download: false });
    say(`${name}: already present in ${dirname(files[0])}`);
    return { name, how: 'present', files };
  } catch (e) {
    // an explicit location (--data-dir, $NINO_DATA_DIR) is the user's folder: report it, fetch nothing
    if (e instanceof DataDirError || !(e instanceof DatasetNotFoundError)) throw e;
  }
  const failures: string[] = [];
  if (downloadAllowed(o)) {
    const from = o.mirror ?? m.download?.baseUrl ?? m.download?.url;
    say(`${name}: downloading from ${from} into the cache (checksums verified)...`);
    try {
      const files = await locate({ ...opts, download: true });
      say(`${name}: downloaded to ${dirname(files[0])}`);
      return { name, how: 'downloaded', files };
    } catch (e) {
      const why = (e as DatasetNotFoundError).downloadError ?? (e as Error).message;
      failures.push(`download failed: ${why}`);
      say(`${name}: download failed: ${why}`);
    }
  } else failures.push('downloads disabled (NINO_OFFLINE=1)');
  if (m.debianPackage) {
    const install = ['install', '-y', '--no-install-recommends', m.debianPackage];
    const isRoot = o.isRoot ?? process.getuid?.() === 0;
    if (isRoot) {
      for (const args of [['update'], install]) {
        say(`${name}: running: apt-get ${args.join(' ')}`);
        const rc = (o.run ?? defaultRun)('apt-get', args);
        if (rc !== 0) {
          failures.push(`apt-get ${args.join(' ')} exited with ${rc}`);
          break;
        }
      }
      try {
        const files = await locate({ ...opts, download: false });
        say(`${name}: installed by the Debian package ${m.debianPackage} in ${systemDirFor(name, o)}`);
        return { name, how: 'debian', files };
      } catch {
        if (!failures.some((f) => f.startsWith('apt-get')))
          failures.push(`the package did not install the files in ${systemDirFor(name, o)}`);
      }
    } else {
      failures.push(
        `not root, so the Debian package was not installed: run  sudo apt-get update && sudo apt-get install -y ${m.debianPackage}`,
      );
    }
  }
  throw new Error(`cannot fetch dataset '${name}': ${failures.join('; ')}`);
}
