/**
 * A small JSON Schema validator for the subset nino's published schemas use (schemas/*.schema.json):
 * type, properties, required, additionalProperties: false, enum, const, items, minItems/maxItems,
 * minimum/exclusiveMinimum/exclusiveMaximum, minLength, pattern, default, and oneOf whose branches are
 * told apart by a `const` property (e.g. model.family). The schema file is the single source of the
 * rules; this module only interprets it. Errors name the JSON path: `model.channels[1]: must be an
 * integer >= 1 (got 0)`; `defaults` fills in every `default` the schema states.
 *
 *   const errs = validateJson(schema, value); if (errs.length) throw ...;   applyDefaults(schema, value)
 */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  enum?: unknown[];
  const?: unknown;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  pattern?: string;
  default?: unknown;
  oneOf?: JsonSchema[];
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));
const at = (path: string) => (path ? `${path}: ` : '');

/** The oneOf branch whose const-valued properties the object matches, or an error. */
function pickBranch(s: JsonSchema, v: unknown, path: string): JsonSchema | string {
  const branches = s.oneOf!;
  const disc = Object.entries(branches[0].properties ?? {}).find(([, p]) => p.const !== undefined)?.[0];
  if (!disc) throw new Error(`schema at ${path || '(root)'}: oneOf branches need a const discriminator`);
  const known = branches.map((b) => show(b.properties![disc].const)).join(', ');
  if (!v || typeof v !== 'object' || Array.isArray(v))
    return `${at(path)}must be an object with '${disc}' (one of ${known})`;
  const d = (v as Record<string, unknown>)[disc];
  if (d === undefined) return `${at(path)}missing field '${disc}' (one of ${known})`;
  const b = branches.find((x) => x.properties![disc].const === d);
  return b ?? `${at(path ? `${path}.${disc}` : disc)}unknown ${disc} ${show(d)} (known: ${known})`;
}

/** All problems of `v` against `s`, each one line naming the path; [] when valid. */
export function validateJson(s: JsonSchema, v: unknown, path = ''): string[] {
  if (s.oneOf) {
    const b = pickBranch(s, v, path);
    return typeof b === 'string' ? [b] : validateJson(b, v, path);
  }
  const errs: string[] = [];
  if (s.const !== undefined && v !== s.const) return [`${at(path)}must be ${show(s.const)} (got ${show(v)})`];
  if (s.enum && !s.enum.includes(v))
    return [`${at(path)}must be one of ${s.enum.map(show).join(', ')} (got ${show(v)})`];
  switch (s.type) {
    case 'object': {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return [`${at(path)}must be an object (got ${show(v)})`];
      const o = v as Record<string, unknown>;
      const props = s.properties ?? {};
      if (s.additionalProperties === false)
        for (const k of Object.keys(o))
          if (!Object.hasOwn(props, k))
            errs.push(`${at(path)}unknown key '${k}' (allowed: ${Object.keys(props).join(', ')})`);
      for (const k of s.required ?? [])
        if (o[k] === undefined)
          errs.push(`${at(path)}missing field '${k}'${props[k]?.description ? ` (${props[k].description})` : ''}`);
      for (const [k, p] of Object.entries(props))
        if (o[k] !== undefined) errs.push(...validateJson(p, o[k], path ? `${path}.${k}` : k));
      return errs;
    }
    case 'array': {
      if (!Array.isArray(v)) return [`${at(path)}must be a list (got ${show(v)})`];
      if (s.minItems !== undefined && v.length < s.minItems)
        errs.push(`${at(path)}needs at least ${s.minItems} entries (got ${v.length})`);
      if (s.maxItems !== undefined && v.length > s.maxItems)
        errs.push(`${at(path)}takes at most ${s.maxItems} entries (got ${v.length})`);
      if (s.items) v.forEach((x, i) => errs.push(...validateJson(s.items!, x, `${path}[${i}]`)));
      return errs;
    }
    case 'string':
      if (typeof v !== 'string') return [`${at(path)}must be a string (got ${show(v)})`];
      if (s.minLength !== undefined && v.length < s.minLength) return [`${at(path)}must not be empty`];
      if (s.pattern && !new RegExp(s.pattern).test(v)) return [`${at(path)}${show(v)} does not match ${s.pattern}`];
      return [];
    case 'boolean':
      return typeof v === 'boolean' ? [] : [`${at(path)}must be true or false (got ${show(v)})`];
    case 'integer':
    case 'number': {
      const int = s.type === 'integer';
      const bound = [
        s.minimum !== undefined ? `>= ${s.minimum}` : '',
        s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : '',
        s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : '',
      ]
        .filter(Boolean)
        .join(' and ');
      const what = `must be ${int ? 'an integer' : 'a number'}${bound ? ` ${bound}` : ''} (got ${show(v)})`;
      if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v))) return [`${at(path)}${what}`];
      if (
        (s.minimum !== undefined && v < s.minimum) ||
        (s.exclusiveMinimum !== undefined && v <= s.exclusiveMinimum) ||
        (s.exclusiveMaximum !== undefined && v >= s.exclusiveMaximum)
      )
        return [`${at(path)}${what}`];
      return [];
    }
    default:
      return [];
  }
}

/** A copy of a valid `v` with every absent field that has a schema `default` filled in. */
export function applyDefaults<T>(s: JsonSchema, v: T): T {
  if (s.oneOf) {
    const b = pickBranch(s, v, '');
    return typeof b === 'string' ? v : applyDefaults(b, v);
  }
  if (s.type === 'object' && v && typeof v === 'object') {
    const o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      if (o[k] === undefined && p.default !== undefined) o[k] = structuredClone(p.default);
      if (o[k] !== undefined) o[k] = applyDefaults(p, o[k]);
    }
    return o as T;
  }
  if (s.type === 'array' && Array.isArray(v) && s.items) return v.map((x) => applyDefaults(s.items!, x)) as T;
  return v;
}
