/**
 * Seeded, reproducible random numbers (no Math.random anywhere in nino).
 * Rng is a splitmix64/xoshiro128** generator; `fork(label)` derives independent streams so that,
 * e.g., data order and initialisation never share a stream.
 *
 *   const rng = new Rng(1000); rng.uniform(); rng.normal(); rng.int(10); rng.shuffle(arr);
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(seed: number | string) {
    let h = typeof seed === 'number' ? seed >>> 0 : hashString(seed);
    // splitmix32 to fill state
    const next = () => {
      h = (h + 0x9e3779b9) | 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A new independent generator derived from this one's seed material and a label. */
  fork(label: string | number): Rng {
    return new Rng(hashString(`${this.s0}:${this.s1}:${this.s2}:${this.s3}:${label}`));
  }

  /** uint32 */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** uniform in [0, 1) */
  uniform(): number {
    return (this.nextU32() + (this.nextU32() >>> 11) / 2097152) / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** standard normal (Box-Muller) */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(a: T[] | Int32Array | Uint32Array): typeof a {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** Serializable state, for resumable runs. */
  getState(): number[] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  setState(s: number[]): void {
    [this.s0, this.s1, this.s2, this.s3] = s.map((x) => x >>> 0);
    this.spareNormal = null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function hashString(s: string): number {
  // FNV-1a 32-bit
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Run seeds (collect, bench, train-nino) are integers 0..SEED_MAX: Rng keeps 32 bits of a number seed,
 * so a larger seed would silently repeat a smaller one's run.
 */
export const SEED_MAX = 2 ** 32 - 1;

export class SeedError extends Error {}

/** Throws SeedError unless `seed` is an integer in 0..SEED_MAX. */
export function checkSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > SEED_MAX) {
    throw new SeedError(`${what} ${seed} is out of range: seeds are integers 0..${SEED_MAX} (2^32-1)`);
  }
}
