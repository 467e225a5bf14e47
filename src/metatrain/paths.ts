/**
 * Where meta-training data comes from: `--data` arguments (files, folders searched recursively for
 * *.arrow, globs with `*`, `?` and `**`) expanded to a sorted, de-duplicated list of absolute paths.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TrajectoryDataError } from './trajectories.ts';

function globToRegex(seg: string): RegExp {
  const re = seg
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}

function walkArrow(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue; // e.g. .seed-3.partial (unfinished collect runs)
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walkArrow(p, out);
    else if (name.endsWith('.arrow')) out.push(p);
  }
}

/** Expands directories (recursively: every *.arrow, skipping dot-entries), files and globs (`*`, `?`, `**`). */
export function expandDataPaths(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (!/[*?]/.test(a)) {
      if (!existsSync(a)) throw new TrajectoryDataError(`--data '${a}' does not exist`);
      if (statSync(a).isDirectory()) {
        const before = out.length;
        walkArrow(a, out);
        if (out.length === before)
          throw new TrajectoryDataError(`--data '${a}': no .arrow trajectory files in this folder`);
      } else out.push(a);
      continue;
    }
    const abs = a.startsWith('/');
    const segs = a.split('/').filter((s, i) => s !== '' || i === 0);
    let cur: string[] = [abs ? '/' : '.'];
    for (let i = abs ? 1 : 0; i < segs.length; i++) {
      const seg = segs[i];
      const last = i === segs.length - 1;
      const next: string[] = [];
      for (const base of cur) {
        if (seg === '**') {
          const stack = [base];
          while (stack.length) {
            const d = stack.pop()!;
            next.push(d);
            for (const n of readdirSync(d))
              if (!n.startsWith('.') && statSync(join(d, n)).isDirectory()) stack.push(join(d, n));
          }
        } else if (/[*?]/.test(seg)) {
          if (!existsSync(base) || !statSync(base).isDirectory()) continue;
          const re = globToRegex(seg);
          for (const n of readdirSync(base).sort()) if (re.test(n) && !n.startsWith('.')) next.push(join(base, n));
        } else next.push(join(base, seg));
      }
      cur = next.filter((p) => existsSync(p) && (last || statSync(p).isDirectory()));
    }
    const files = cur.filter((p) => statSync(p).isFile() && p.endsWith('.arrow'));
    if (!files.length) throw new TrajectoryDataError(`--data '${a}' matches no .arrow files`);
    out.push(...files.sort());
  }
  const seen = new Set<string>();
  return out
    .map((p) => resolve(p))
    .filter((r) => {
      if (seen.has(r)) return false;
      seen.add(r);
      return true;
    });
}
