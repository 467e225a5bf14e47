/**
 * Deterministic batch sampling on typed arrays (no tfjs; the task turns these into tensors).
 *
 * Vision: `EpochSampler` yields minibatches of example indices, a fresh permutation per epoch (like a
 * PyTorch DataLoader with shuffle=True, drop_last=False by default). The permutation of epoch e is a pure
 * function of (the Rng's state at construction, e), so a run can resume from `{epoch, pos}` alone.
 *
 * Language: `sampleWindows` draws B random windows of T+1 tokens -> x = w[0..T), y = w[1..T];
 * `evalWindows` tiles a stream with non-overlapping windows for validation loss.
 *
 *   const s = new EpochSampler(55000, 128, rng.fork('data'));  const idx = s.next();   // Int32Array [<=128]
 *   const { x, y } = sampleWindows(tokens, 32, 64, rng);                              // [32*64] each
 */
import { Rng } from '../core/rng.ts';

export interface SamplerState {
  epoch: number;
  /** position inside the epoch's permutation */
  pos: number;
}

export class EpochSampler {
  private readonly base: Rng;
  private perm: Int32Array | null = null;
  private permEpoch = -1;
  epoch = 0;
  pos = 0;

  constructor(
    readonly count: number,
    readonly batchSize: number,
    rng: Rng,
    readonly opts: { dropLast?: boolean; shuffle?: boolean } = {},
  ) {
    if (count <= 0 || batchSize <= 0)
      throw new Error(`EpochSampler needs count > 0 and batchSize > 0 (got ${count}, ${batchSize})`);
    if (opts.dropLast && batchSize > count) throw new Error(`batchSize ${batchSize} > count ${count} with dropLast`);
    this.base = rng.fork('epoch-sampler');
  }

  /** batches per epoch */
  get batchesPerEpoch(): number {
    return this.opts.dropLast ? Math.floor(this.count / this.batchSize) : Math.ceil(this.count / this.batchSize);
  }

  /** The permutation used in epoch e: [count] (identity when shuffle === false). */
  permutation(e: number): Int32Array {
    const p = new Int32Array(this.count);
    for (let i = 0; i < this.count; i++) p[i] = i;
    if (this.opts.shuffle === false) return p;
    return this.base.fork(`epoch:${e}`).shuffle(p) as Int32Array;
  }

  /** Next minibatch of example indices [<= batchSize]; rolls over to a new epoch as needed. */
  next(): Int32Array {
    const end = this.opts.dropLast ? Math.floor(this.count / this.batchSize) * this.batchSize : this.count;
    if (this.pos >= end) {
      this.epoch++;
      this.pos = 0;
    }
    if (this.permEpoch !== this.epoch) {
      this.perm = this.permutation(this.epoch);
      this.permEpoch = this.epoch;
    }
    const stop = Math.min(this.pos + this.batchSize, end);
    const out = this.perm!.slice(this.pos, stop);
    this.pos = stop;
    return out;
  }

  getState(): SamplerState {
    return { epoch: this.epoch, pos: this.pos };
  }

  setState(s: SamplerState): void {
    this.epoch = s.epoch;
    this.pos = s.pos;
  }
}

/** Language batch as typed arrays: x, y [B*T] row-major ([B,T]). */
export interface TokenBatch {
  x: Int32Array;
  y: Int32Array;
  batchSize: number;
  seqLen: number;
}

/**
 * B random windows of T+1 consecutive tokens (start uniform in [0, len-T-1]): x = w[:T], y = w[1:].
 * Consumes exactly B draws of `rng`.
 */
export function sampleWindows(tokens: Int32Array, batchSize: number, seqLen: number, rng: Rng): TokenBatch {
  const maxStart = tokens.length - seqLen - 1;
  if (maxStart < 0) throw new Error(`token stream of ${tokens.length} is shorter than seqLen+1 = ${seqLen + 1}`);
  const x = new Int32Array(batchSize * seqLen);
  const y = new Int32Array(batchSize * seqLen);
  for (let b = 0; b < batchSize; b++) {
    const s = rng.int(maxStart + 1);
    x.set(tokens.subarray(s, s + seqLen), b * seqLen);
    y.set(tokens.subarray(s + 1, s + seqLen + 1), b * seqLen);
  }
  return { x, y, batchSize, seqLen };
}

/**
 * Non-overlapping windows covering the stream from the start (window i starts at i*T), grouped into
 * batches of up to `batchSize`; at most `maxWindows` windows. Deterministic (no rng).
 */
export function evalWindows(
  tokens: Int32Array,
  seqLen: number,
  batchSize: number,
  maxWindows = Infinity,
): TokenBatch[] {
  const n = Math.min(Math.floor((tokens.length - 1) / seqLen), maxWindows);
  const out: TokenBatch[] = [];
  for (let w0 = 0; w0 < n; w0 += batchSize) {
    const B = Math.min(batchSize, n - w0);
    const x = new Int32Array(B * seqLen);
    const y = new Int32Array(B * seqLen);
    for (let b = 0; b < B; b++) {
      const s = (w0 + b) * seqLen;
      x.set(tokens.subarray(s, s + seqLen), b * seqLen);
      y.set(tokens.subarray(s + 1, s + seqLen + 1), b * seqLen);
    }
    out.push({ x, y, batchSize: B, seqLen });
  }
  return out;
}
