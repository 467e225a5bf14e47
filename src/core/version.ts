/**
 * Versions of the code: the tool version recorded in every output (from package.json), and the
 * fingerprint of the code a computation runs, taken from the module graph itself so that no module a
 * result depends on can be left out by hand.
 *
 * `importClosure` walks the relative module specifiers of entry modules (static `import`/`export ... from`,
 * `import('...')` with a literal, `new URL('...', import.meta.url)` naming a module) recursively. It
 * reads TypeScript sources and emitted JavaScript alike: a specifier `./x.js` resolves to `x.js` or, when
 * that file is absent, `x.ts` (and the other way round). Package imports (no `./` or `../`) are covered
 * by TOOL_VERSION. Comments are not stripped: a specifier in a comment can only add a file, never drop one.
 *
 *   const v = closureFingerprint(srcRoot, ['bench/run', 'core/backend']);   // 16 hex digits
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOOL_VERSION: string = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
).version;

const MODULE_EXT = /\.(ts|mts|cts|js|mjs|cjs)$/;
const SPECIFIERS = [
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /\bimport\s*['"]([^'"]+)['"]/g,
  /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\bnew\s+URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url\s*\)/g,
];

const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** The module file a relative specifier names, seen from `fromDir` (.js and .ts are interchangeable), or null. */
export function resolveModule(fromDir: string, spec: string): string | null {
  const p = isAbsolute(spec) ? spec : join(fromDir, spec);
  const alts = [p];
  const m = /\.(js|mjs|cjs|ts|mts|cts)$/.exec(p);
  if (m) {
    const stem = p.slice(0, -m[0].length);
    const swap: Record<string, string[]> = {
      js: ['ts'],
      mjs: ['mts'],
      cjs: ['cts'],
      ts: ['js'],
      mts: ['mjs'],
      cts: ['cjs'],
    };
    alts.push(...swap[m[1]].map((e) => `${stem}.${e}`));
  } else {
    alts.push(`${p}.ts`, `${p}.js`, join(p, 'index.ts'), join(p, 'index.js'));
  }
  return alts.find((a) => MODULE_EXT.test(a) && isFile(a)) ?? null;
}

/** Relative module specifiers in a module's text (see the module comment). */
export function moduleSpecifiers(text: string): string[] {
  const out: string[] = [];
  for (const re of SPECIFIERS)
    for (const m of text.matchAll(re)) if (m[1].startsWith('./') || m[1].startsWith('../')) out.push(m[1]);
  return out;
}

export interface ClosureOptions {
  /** modules (paths relative to the root, without extension) whose imports are not followed and whose bytes are not hashed */
  stopAt?: readonly string[];
}

/**
 * Every module file reachable from `entries` (paths relative to `root`, with or without extension),
 * sorted, as paths relative to `root`. An entry that does not resolve is an error (a renamed module
 * must not silently shrink the fingerprint).
 */
export function importClosure(root: string, entries: readonly string[], o: ClosureOptions = {}): string[] {
  const stop = new Set((o.stopAt ?? []).map((s) => s.replace(MODULE_EXT, '')));
  const seen = new Set<string>();
  const todo: string[] = [];
  for (const e of entries) {
    const f = resolveModule(root, e);
    if (!f) throw new Error(`code fingerprint: entry module '${e}' not found under ${root}`);
    todo.push(f);
  }
  while (todo.length) {
    const f = todo.pop()!;
    const rel = relative(root, f).split(sep).join('/');
    if (seen.has(rel) || stop.has(rel.replace(MODULE_EXT, ''))) continue;
    seen.add(rel);
    for (const s of moduleSpecifiers(readFileSync(f, 'utf8'))) {
      const g = resolveModule(dirname(f), s);
      if (g) todo.push(g);
    }
  }
  return [...seen].sort();
}

const fingerprints = new Map<string, string>();

/**
 * A fingerprint computed once per process under `id` (walking a module graph or hashing a checkpoint is
 * too slow to repeat per run); `clearFingerprints` forgets them all when a file was rewritten.
 */
export function fingerprintOnce(id: string, compute: () => string): string {
  let v = fingerprints.get(id);
  if (v === undefined) fingerprints.set(id, (v = compute()));
  return v;
}

/** Forgets every fingerprint `fingerprintOnce` remembered. */
export function clearFingerprints(): void {
  fingerprints.clear();
}

/** sha256 (16 hex digits) over the path and bytes of every module in the closure, plus TOOL_VERSION. */
export function closureFingerprint(root: string, entries: readonly string[], o: ClosureOptions = {}): string {
  const h = createHash('sha256').update(TOOL_VERSION);
  for (const rel of importClosure(root, entries, o)) h.update(`\0${rel}\0`).update(readFileSync(join(root, rel)));
  return h.digest('hex').slice(0, 16);
}
