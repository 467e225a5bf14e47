/**
 * Tokenizers (no tfjs): GPT-2 BPE via gpt-tokenizer's r50k_base, or byte-level UTF-8 with vocab 256;
 * and encoding text into one token stream.
 *
 * Documents are joined into one stream: GPT-2 appends <|endoftext|> (50256) after every document, as GPT-2
 * training does; byte-level (vocab exactly 256, no special token) separates documents with "\n\n".
 * Special-token strings inside the text are encoded as plain text.
 *
 *   const tok = await getTokenizer('gpt2');  const ids = encodeDocuments(tok, ['a', 'b']);
 */
import { importOptional } from '../core/optional.ts';

export type TokenizerName = 'gpt2' | 'byte';
export const TOKENIZERS: readonly TokenizerName[] = ['gpt2', 'byte'];

export interface Tokenizer {
  name: TokenizerName;
  vocabSize: number;
  /** id appended after each document, or null (byte-level) */
  eot: number | null;
  /** separator text between documents when eot is null */
  docSeparator: string;
  encode(text: string): ArrayLike<number>;
  decode(ids: ArrayLike<number>): string;
}

const GPT2_VOCAB = 50257;
const GPT2_EOT = 50256;

const byteTokenizer: Tokenizer = {
  name: 'byte',
  vocabSize: 256,
  eot: null,
  docSeparator: '\n\n',
  encode: (text) => Buffer.from(text, 'utf8'),
  decode: (ids) => Buffer.from(Uint8Array.from(ids as ArrayLike<number>)).toString('utf8'),
};

let gpt2: Tokenizer | null = null;

/** Resolves a tokenizer by name; unknown names fail with the list of valid ones. */
export async function getTokenizer(name: TokenizerName | string): Promise<Tokenizer> {
  if (name === 'byte') return byteTokenizer;
  if (name === 'gpt2') {
    if (!gpt2) {
      const enc = await importOptional<typeof import('gpt-tokenizer/encoding/r50k_base')>(
        'gpt-tokenizer/encoding/r50k_base',
        "the 'gpt2' tokenizer",
      );
      const opts = { disallowedSpecial: new Set<string>() };
      gpt2 = {
        name: 'gpt2',
        vocabSize: GPT2_VOCAB,
        eot: GPT2_EOT,
        docSeparator: '',
        encode: (text) => enc.encode(text, opts),
        decode: (ids) => enc.decode(Array.from(ids)),
      };
      if (enc.vocabularySize !== GPT2_VOCAB)
        throw new Error(`r50k_base vocabulary is ${enc.vocabularySize}, expected ${GPT2_VOCAB}`);
    }
    return gpt2;
  }
  throw new Error(`unknown tokenizer '${name}'; choose one of: ${TOKENIZERS.join(', ')}`);
}

/** Growable Int32Array (token streams of 100M+ tokens without number[] overhead). */
export class TokenBuilder {
  private buf = new Int32Array(1 << 16);
  length = 0;

  push(a: ArrayLike<number>): void {
    if (this.length + a.length > this.buf.length) {
      let cap = this.buf.length;
      while (cap < this.length + a.length) cap *= 2;
      const nb = new Int32Array(cap);
      nb.set(this.buf.subarray(0, this.length));
      this.buf = nb;
    }
    if (a instanceof Int32Array || a instanceof Uint8Array || Array.isArray(a))
      this.buf.set(a as ArrayLike<number>, this.length);
    else for (let i = 0; i < a.length; i++) this.buf[this.length + i] = a[i];
    this.length += a.length;
  }

  /** trimmed copy */
  finish(): Int32Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Encodes documents into one stream (eot after each doc, or docSeparator between docs for byte-level).
 */
export function encodeDocuments(tok: Tokenizer, docs: Iterable<string>): Int32Array {
  const out = new TokenBuilder();
  let first = true;
  for (const doc of docs) {
    if (tok.eot === null && !first && tok.docSeparator) out.push(tok.encode(tok.docSeparator));
    first = false;
    out.push(tok.encode(doc));
    if (tok.eot !== null) out.push([tok.eot]);
  }
  return out.finish();
}

/**
 * Encodes text rows independently and concatenates them with nothing in between, as Hugging Face
 * `run_clm` does (tokenize each row, chain, no EOS). Stops once `maxTokens` is reached (whole rows).
 */
export function encodeRows(
  tok: Tokenizer,
  rows: Iterable<string>,
  maxTokens = Infinity,
): { tokens: Int32Array; rows: number } {
  const out = new TokenBuilder();
  let n = 0;
  for (const r of rows) {
    if (out.length >= maxTokens) break;
    if (r.length) out.push(tok.encode(r));
    n++;
  }
  return { tokens: out.finish(), rows: n };
}

/**
 * Lines of a UTF-8 buffer without building one giant string (WikiText-103's 540 MB train file is larger
 * than V8's maximum string length). keepNewline keeps the trailing "\n" of each line.
 */
export function* bufferLines(buf: Uint8Array, keepNewline: boolean): Generator<string> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let s = 0;
  while (s < b.length) {
    let e = b.indexOf(10, s);
    if (e < 0) e = b.length;
    else if (keepNewline) e += 1;
    yield b.toString('utf8', s, e);
    s = keepNewline ? e : e + 1;
  }
}
