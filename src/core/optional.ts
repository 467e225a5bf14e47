/**
 * Optional peer dependencies (packages only some tasks need, e.g. gpt-tokenizer for the GPT-2 BPE
 * tokenizer): imported on first use, and a missing package fails with one line naming it and the
 * install command, instead of Node's ERR_MODULE_NOT_FOUND stack.
 *
 *   const enc = await importOptional<typeof import('gpt-tokenizer/encoding/r50k_base')>('gpt-tokenizer/encoding/r50k_base', 'the gpt2 tokenizer');
 */

/** The npm package a bare specifier belongs to ('@scope/name/sub' -> '@scope/name', 'name/sub' -> 'name'). */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

export class MissingOptionalDependency extends Error {}

/** import(specifier), or a MissingOptionalDependency saying that `what` needs the package and how to install it. */
export async function importOptional<T>(specifier: string, what: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const pkg = packageOf(specifier);
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String((e as Error).message).includes(pkg)
    ) {
      throw new MissingOptionalDependency(
        `${what} needs the optional package '${pkg}', which is not installed: npm install ${pkg}`,
      );
    }
    throw e;
  }
}
