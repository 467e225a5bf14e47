/** The tool version recorded in every output (from package.json). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TOOL_VERSION: string = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
).version;
