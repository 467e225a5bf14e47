/**
 * Dataset manifests (datasets/*.json) and `nino data fetch`'s logic on a machine without the data: the
 * sources, the apt-get runner and root-ness are injected, so no network, root or package is needed.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CIFAR10_SOURCE, CIFAR100_SOURCE } from '../src/data/cifar.ts';
import { FASHION_MNIST_URL } from '../src/data/fashion_mnist.ts';
import { downloadFile } from '../src/data/fetch.ts';
import { fetchDataset } from '../src/data/install.ts';
import { checkManifest, datasetManifest, manifestNames, type DatasetManifest } from '../src/data/manifest.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const BIN = fileURLToPath(new URL('../bin/nino', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'nino-ds-'));

describe('dataset manifests', () => {
  it('every file in datasets/ is a valid manifest; the loaders read their sources and checksums from them', () => {
    expect(manifestNames()).toEqual(['cifar10', 'cifar100', 'fashion-mnist', 'lm1b', 'sotu', 'wikitext103']);
    for (const n of manifestNames()) expect(datasetManifest(n).license.length).toBeGreaterThan(0);
    const fm = datasetManifest('fashion-mnist');
    expect(fm.debianPackage).toBe('dataset-fashion-mnist');
    expect(fm.files.map((f) => f.md5)).toEqual([
      '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      '25c81989df183df01b3e8a0aad5dffbe',
      'bef4ecab320f06d8554ea6380940ec79',
      'bb300cfdad3c16e7a12a480ee83cd310',
    ]);
    expect(FASHION_MNIST_URL).toBe(fm.download!.baseUrl);
    expect(CIFAR10_SOURCE).toMatchObject({
      md5: 'c32a1d4ab5d03f1284b67883e8d87530',
      folder: 'cifar-10-batches-bin',
      labelBytes: 1,
      test: ['test_batch.bin'],
    });
    expect(CIFAR10_SOURCE.train).toHaveLength(5);
    expect(CIFAR100_SOURCE).toMatchObject({
      md5: '03b5dce01913d631647c71ecec9e9cb8',
      train: ['train.bin'],
      labelBytes: 2,
    });
  });

  it('a bad manifest is an error naming the file and the field', () => {
    expect(() =>
      checkManifest(
        { name: 'x', title: 't', homepage: 'h', license: 'l', format: 'f', files: [{ name: 'a', md5: 'nothex' }] },
        'datasets/x.json',
      ),
    ).toThrow("dataset manifest datasets/x.json: files[0] (a): 'md5' must be 32 lowercase hex digits");
    expect(() => checkManifest({ name: 'x', files: [] }, 'datasets/x.json')).toThrow(
      /datasets\/x\.json: 'title' must be a non-empty string/,
    );
    expect(() => datasetManifest('nope')).toThrow(/no dataset manifest 'nope'.*known: cifar10/);
  });
});

describe('fetchDataset (nino data fetch) on a machine without the data', () => {
  let server: Server;
  let srv = '';
  let mirror = '';
  let manifest: DatasetManifest;
  beforeAll(async () => {
    srv = writeFakeFashionMnist(join(tmp(), 'srv'), 20, 10);
    const md5 = (f: string) =>
      createHash('md5')
        .update(readFileSync(join(srv, f)))
        .digest('hex');
    const real = datasetManifest('fashion-mnist');
    manifest = { ...real, files: real.files.map((f) => ({ ...f, md5: md5(f.name) })) };
    server = createServer((req, res) => {
      const f = join(srv, (req.url ?? '').slice(1));
      if (existsSync(f)) res.end(readFileSync(f));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => server.close());

  const state = () => {
    const d = tmp();
    return { d, base: { systemRoot: join(d, 'system'), cacheDir: join(d, 'cache'), manifest } };
  };
  const withoutEnv = async <T>(f: () => Promise<T>): Promise<T> => {
    const old = { dir: process.env.NINO_DATA_DIR, off: process.env.NINO_OFFLINE };
    delete process.env.NINO_DATA_DIR;
    delete process.env.NINO_OFFLINE;
    try {
      return await f();
    } finally {
      if (old.dir !== undefined) process.env.NINO_DATA_DIR = old.dir;
      if (old.off !== undefined) process.env.NINO_OFFLINE = old.off;
    }
  };

  it('downloads from the official source into the cache, checksums verified; a second call finds it', async () => {
    const { d, base } = state();
    const said: string[] = [];
    const ran: string[] = [];
    const r = await withoutEnv(() =>
      fetchDataset('fashion-mnist', {
        ...base,
        mirror,
        say: (l) => said.push(l),
        isRoot: true,
        run: (c, a) => (ran.push([c, ...a].join(' ')), 0),
      }),
    );
    expect(r.how).toBe('downloaded');
    expect(r.files[0]).toBe(join(d, 'cache', 'fashion-mnist', 'train-images-idx3-ubyte.gz'));
    expect(said[0]).toBe(`fashion-mnist: downloading from ${mirror} into the cache (checksums verified)...`);
    expect(ran).toEqual([]);
    expect(
      (await withoutEnv(() => fetchDataset('fashion-mnist', { ...base, mirror: 'http://127.0.0.1:9/' }))).how,
    ).toBe('present');
  });

  it('download fails (checksum mismatch), root: runs apt-get update and install of the Debian package, then finds it', async () => {
    const { d, base } = state();
    const bad = { ...manifest, files: manifest.files.map((f) => ({ ...f, md5: '0'.repeat(32) })) };
    const said: string[] = [];
    const ran: string[] = [];
    const run = (c: string, a: string[]) => {
      ran.push([c, ...a].join(' '));
      if (a[0] === 'install') writeFakeFashionMnist(join(d, 'system', 'fashion-mnist'), 20, 10); // what the package installs
      return 0;
    };
    const r = await withoutEnv(() =>
      fetchDataset('fashion-mnist', { ...base, manifest: bad, mirror, say: (l) => said.push(l), isRoot: true, run }),
    );
    expect(r.how).toBe('debian');
    expect(ran).toEqual(['apt-get update', 'apt-get install -y --no-install-recommends dataset-fashion-mnist']);
    expect(said).toContain('fashion-mnist: running: apt-get install -y --no-install-recommends dataset-fashion-mnist');
    expect(said.some((l) => /download failed: md5 mismatch/.test(l))).toBe(true);
    expect(existsSync(join(d, 'cache', 'fashion-mnist', 'train-images-idx3-ubyte.gz.part'))).toBe(false);
  });

  it('offline and not root: nothing is run, the error gives the exact command', async () => {
    const { base } = state();
    const ran: string[] = [];
    const err = await withoutEnv(() =>
      fetchDataset('fashion-mnist', { ...base, download: false, isRoot: false, run: (c) => (ran.push(c), 0) }),
    ).catch((e) => e);
    expect(ran).toEqual([]);
    expect(err.message).toBe(
      "cannot fetch dataset 'fashion-mnist': downloads disabled (NINO_OFFLINE=1); not root, so the Debian package was not installed: run  sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist",
    );
  });

  it('unreachable source and a failing apt-get: one error with both reasons', async () => {
    const { base } = state();
    const err = await withoutEnv(() =>
      fetchDataset('fashion-mnist', { ...base, mirror: 'http://127.0.0.1:9/', isRoot: true, run: () => 100 }),
    ).catch((e) => e);
    expect(err.message).toMatch(
      /^cannot fetch dataset 'fashion-mnist': download failed: cannot fetch http:\/\/127\.0\.0\.1:9\/train-images-idx3-ubyte\.gz: .*; apt-get update exited with 100$/,
    );
  });

  it('a source that never answers fails after the response timeout instead of hanging', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/x.gz`;
      const t0 = performance.now();
      await expect(downloadFile(url, join(tmp(), 'x.gz'), {}, { responseTimeoutMs: 300 })).rejects.toThrow(
        `cannot fetch ${url}: no answer within 0.3 s`,
      );
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('nino data fetch: present in NINO_DATA_DIR exits 0; an unknown dataset exits 2; an empty NINO_DATA_DIR exits 2 naming it', () => {
    const d = tmp();
    // info level whatever the caller's NINO_LOG_LEVEL (CI runs with warn): the 'already present' line is info
    const env = { ...process.env, NINO_DATA_DIR: srv, NINO_OFFLINE: '1', NINO_LOG_LEVEL: 'info' };
    const ok = spawnSync(BIN, ['data', 'fetch', 'fashion-mnist'], { encoding: 'utf8', env });
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain(`fashion-mnist: already present in ${srv}`);
    const unknown = spawnSync(BIN, ['data', 'fetch', 'mnist-99'], { encoding: 'utf8', env });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown dataset 'mnist-99'; known: .*fashion-mnist/);
    writeFileSync(join(d, 'readme.txt'), '');
    const empty = spawnSync(BIN, ['data', 'fetch', 'fashion-mnist'], {
      encoding: 'utf8',
      env: { ...env, NINO_DATA_DIR: d },
    });
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain(`not found in ${d} (given by $NINO_DATA_DIR)`);
  });
});
