/** `nino data fetch | list`: get a dataset before a run needs it (download, else the Debian package); list the manifests. */
import type { Command } from 'commander';
import { fetchDataset, fetchableDatasets } from '../data/install.ts';
import { datasetManifest, manifestNames } from '../data/manifest.ts';
import { readEnv } from './env.ts';
import { makeLogger, type GlobalOpts } from './common.ts';

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('get datasets before a run needs them; list the dataset manifests (datasets/)');
  data
    .command('fetch')
    .description(
      'make datasets available: already there, else the official download (checksummed) into the cache, else the Debian package (apt-get, as root)',
    )
    .argument('<name...>', `dataset(s): ${fetchableDatasets().join(', ')}`)
    .option('--data-dir <dir>', 'only check this folder (as the other commands would read it)')
    .addHelpText('after', '\nExample:\n  nino data fetch fashion-mnist     # what `nino bench --suite ci` reads')
    .action(async (names: string[], o: { dataDir?: string }, cmd: Command) => {
      const logger = makeLogger(cmd.optsWithGlobals() as GlobalOpts);
      for (const name of names)
        await fetchDataset(name, { dataDir: o.dataDir, ...readEnv().source, say: (line) => logger.info(line) });
    });
  data
    .command('list')
    .description('list the datasets nino knows, with source, licence and Debian package')
    .action(() => {
      for (const n of manifestNames()) {
        const m = datasetManifest(n);
        const src = m.npmPackage
          ? `npm ${m.npmPackage}`
          : (m.download?.baseUrl ?? m.download?.url ?? 'see datasets/' + n + '.json');
        process.stdout.write(
          `${n.padEnd(14)} ${m.title}\n${''.padEnd(14)} licence: ${m.license}; source: ${src}${m.debianPackage ? `; Debian: ${m.debianPackage}` : ''}\n`,
        );
      }
    });
}
