/**
 * The bench cache key covers every module a run imports: found by walking the module graph of a copy of
 * src/, editing one module at a time and checking which fingerprint moves.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { clearNowcasterVersions, codeVersion, nowcasterCodeVersion } from '../src/bench/run.ts';
import { importClosure } from '../src/core/version.ts';

const SRC = fileURLToPath(new URL('../src', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'nino-codever-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function copyOfSrc(name: string): string {
  const root = join(tmp, name, 'src');
  cpSync(SRC, root, { recursive: true });
  return root;
}

function versionsAfterEdit(file: string): { adam: [string, string]; nowcaster: [string, string] } {
  const root = copyOfSrc(file.replace(/\W/g, '_'));
  clearNowcasterVersions();
  const before = { adam: codeVersion(root), nowcaster: nowcasterCodeVersion(root) };
  appendFileSync(join(root, file), '\n// edited\n');
  clearNowcasterVersions();
  return { adam: [before.adam, codeVersion(root)], nowcaster: [before.nowcaster, nowcasterCodeVersion(root)] };
}

describe('bench code fingerprint (module graph)', () => {
  it('an unedited copy of src/ has the same fingerprints as src/', () => {
    const root = copyOfSrc('same');
    clearNowcasterVersions();
    expect(codeVersion(root)).toBe(codeVersion());
    expect(nowcasterCodeVersion(root)).toBe(nowcasterCodeVersion());
  });

  it('editing bench/stats.ts (steps-to-target is stored) changes the Adam run key', () => {
    const v = versionsAfterEdit('bench/stats.ts');
    expect(v.adam[1]).not.toBe(v.adam[0]);
  });

  it('editing trajectories/scale.ts (every nowcast scales through it) changes the nowcaster key, not Adam', () => {
    const v = versionsAfterEdit('trajectories/scale.ts');
    expect(v.nowcaster[1]).not.toBe(v.nowcaster[0]);
    expect(v.adam[1]).toBe(v.adam[0]);
  });

  it('editing a wasm kernel or the training loop changes the Adam key', () => {
    for (const f of ['core/kernels/conv2d_backprop.ts', 'training/loop.ts', 'data/fashion_mnist.ts']) {
      const v = versionsAfterEdit(f);
      expect(v.adam[1], f).not.toBe(v.adam[0]);
    }
  });

  it('editing a module no run imports (a CLI file, meta-training) or the task registry (data) changes neither', () => {
    for (const f of ['cli/collect.ts', 'metatrain/trainer.ts', 'tasks/registry.ts']) {
      const v = versionsAfterEdit(f);
      expect(v.adam[1], f).toBe(v.adam[0]);
      expect(v.nowcaster[1], f).toBe(v.nowcaster[0]);
    }
  });

  it('follows .js and .ts specifiers whatever the extension on disk (sources or emitted build)', () => {
    const root = join(tmp, 'mixed');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(
      join(root, 'entry.js'),
      "import { b } from './sub/b.js';\nconst w = new URL('./w.mjs', import.meta.url);\n",
    );
    writeFileSync(
      join(root, 'sub/b.ts'),
      "export * from '../c.js';\nexport const b = await import('./d.ts');\nimport 'tfjs';\n",
    );
    writeFileSync(join(root, 'c.js'), 'export const c = 1;\n');
    writeFileSync(join(root, 'sub/d.js'), 'export const d = 1;\n');
    writeFileSync(join(root, 'w.mjs'), '');
    writeFileSync(join(root, 'unused.ts'), '');
    expect(importClosure(root, ['entry'])).toEqual(['c.js', 'entry.js', 'sub/b.ts', 'sub/d.js', 'w.mjs']);
    expect(() => importClosure(root, ['gone'])).toThrow(/entry module 'gone' not found/);
  });
});
