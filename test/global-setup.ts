/**
 * Vitest global setup: builds the package (dist/) once per test run. The tests import the TypeScript
 * sources directly, but the CLI tests spawn bin/nino, which runs the compiled JavaScript, and the
 * package tests check what the build emits.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
