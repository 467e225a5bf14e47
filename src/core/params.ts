/**
 * Parameter layout shared by every layer of nino: a model is an ordered list of named tensors
 * (PyTorch `named_parameters()` order), and a "flat parameter vector" is their concatenation.
 *
 *   const layout = makeLayout([{ name: 'fc.0.weight', shape: [16, 1, 3, 3] }, ...]);
 *   layout.total; layout.entries[0].offset;
 */
export interface ParamSpec {
  name: string;
  shape: number[];
}

export interface ParamEntry extends ParamSpec {
  /** offset of the first element in the flat vector */
  offset: number;
  numel: number;
}

export interface ParamLayout {
  entries: ParamEntry[];
  /** total number of parameters */
  total: number;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function makeLayout(specs: readonly ParamSpec[]): ParamLayout {
  let offset = 0;
  const entries: ParamEntry[] = [];
  for (const s of specs) {
    const n = numel(s.shape);
    entries.push({ name: s.name, shape: [...s.shape], offset, numel: n });
    offset += n;
  }
  return { entries, total: offset };
}

/** Finds an entry by name, failing with the list of known names. */
export function entryByName(layout: ParamLayout, name: string): ParamEntry {
  const e = layout.entries.find((x) => x.name === name);
  if (!e) throw new Error(`unknown parameter '${name}'; known: ${layout.entries.map((x) => x.name).join(', ')}`);
  return e;
}
