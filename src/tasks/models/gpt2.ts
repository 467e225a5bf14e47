/**
 * GPT-2 (Hugging Face GPT2LMHeadModel) as a pure function of its parameter list, in tfjs.
 *
 * Parameters, in HF `named_parameters()` order, names and shapes (HF Conv1D weights are (in, out), y = x W + b):
 *   transformer.wte.weight [V,d]   transformer.wpe.weight [P,d]
 *   per block i: transformer.h.{i}.ln_1.weight/bias [d], attn.c_attn.weight [d,3d]/bias [3d],
 *                attn.c_proj.weight [d,d]/bias [d], ln_2.weight/bias [d], mlp.c_fc.weight [d,4d]/bias [4d],
 *                mlp.c_proj.weight [4d,d]/bias [d]
 *   transformer.ln_f.weight/bias [d]
 * lm_head is tied to wte (not listed). Total = V d + P d + L (12 d^2 + 13 d) + 2 d.
 *
 * Forward (pre-LayerNorm, eps 1e-5; GELU tanh approximation "gelu_new"; causal attention with the fused
 * q/k/v projection split as [q | k | v] along the output axis, each split into heads of d/H):
 *   x [B,T] int32 -> h = wte[x] + wpe[0..T) -> blocks -> ln_f -> logits = h wte^T  [B,T,V]
 * Init (HF _init_weights): N(0, 0.02) for wte, wpe, c_attn and c_fc weights; N(0, 0.02/sqrt(2 L)) for
 * the two c_proj weights; biases 0; LayerNorm weight 1, bias 0. Draws in parameter order from one Rng.
 *
 * wasm notes: no Einsum; OneHot with dtype 'float32' is broken on wasm 4.22 (all zeros), so it is cast;
 * every matMul is plain (the transposed variants are ~10x slower on wasm), with explicit transposes
 * instead, also in the gradients (custom `mm`); the embedding gather has its own gradient (a typed-array
 * scatter-add; tfjs's goes through UnsortedSegmentSum); the loss uses logSoftmax (logSumExp's gradient
 * goes through a slow Equal) and gelu uses x*x*x (Pow's gradient is slow). The batched [B*H,T,hd]
 * attention matMuls (~1.5 GFLOP/s with stock wasm; nino's BatchMatMul kernel in src/core/kernels runs
 * them as XNNPACK products) stay tensor ops on wasm: typed-array loops were slower even against stock.
 *
 *   const m = makeGpt2({ vocabSize: 256, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2 });
 *   const logits = m.forward(params, x);   // x [B,T] int32 -> [B,T,256]
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamSpec } from '../../core/params.ts';
import type { Rng } from '../../core/rng.ts';
import type { Batch, ModelDef } from '../types.ts';

export interface Gpt2Config {
  vocabSize: number;
  /** maximum context (rows of wpe) */
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** LayerNorm epsilon, default 1e-5 */
  layerNormEps?: number;
  /**
   * causal attention core: 'loops' = typed-array kernel (forward + backward, skips the masked half),
   * 'tensor' = tfjs ops (batched matMul + mask + softmax); 'auto' (default) = loops on the pure-JS cpu
   * backend (~1.3x faster there), tensor elsewhere (on wasm the batched matMuls still beat JS loops).
   */
  attention?: 'auto' | 'loops' | 'tensor';
}

/**
 * Parameter specs in HF GPT2LMHeadModel.named_parameters() order (tied lm_head, so absent; MLP width 4 x
 * nEmbd). The one definition: the model family and the neural-graph tests/benchmarks all build from it.
 */
export function gpt2Specs(c: Pick<Gpt2Config, 'vocabSize' | 'nPositions' | 'nEmbd' | 'nLayer'>): ParamSpec[] {
  const d = c.nEmbd;
  const s: ParamSpec[] = [
    { name: 'transformer.wte.weight', shape: [c.vocabSize, d] },
    { name: 'transformer.wpe.weight', shape: [c.nPositions, d] },
  ];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `transformer.h.${i}`;
    s.push(
      { name: `${p}.ln_1.weight`, shape: [d] },
      { name: `${p}.ln_1.bias`, shape: [d] },
      { name: `${p}.attn.c_attn.weight`, shape: [d, 3 * d] },
      { name: `${p}.attn.c_attn.bias`, shape: [3 * d] },
      { name: `${p}.attn.c_proj.weight`, shape: [d, d] },
      { name: `${p}.attn.c_proj.bias`, shape: [d] },
      { name: `${p}.ln_2.weight`, shape: [d] },
      { name: `${p}.ln_2.bias`, shape: [d] },
      { name: `${p}.mlp.c_fc.weight`, shape: [d, 4 * d] },
      { name: `${p}.mlp.c_fc.bias`, shape: [4 * d] },
      { name: `${p}.mlp.c_proj.weight`, shape: [4 * d, d] },
      { name: `${p}.mlp.c_proj.bias`, shape: [d] },
    );
  }
  s.push({ name: 'transformer.ln_f.weight', shape: [d] }, { name: 'transformer.ln_f.bias', shape: [d] });
  return s;
}

/** Number of parameters: V d + P d + L (12 d^2 + 13 d) + 2 d. */
export function gpt2ParamCount(c: Gpt2Config): number {
  const d = c.nEmbd;
  return c.vocabSize * d + c.nPositions * d + c.nLayer * (12 * d * d + 13 * d) + 2 * d;
}

const PER_BLOCK = 12;

/**
 * a [..., m, k] @ b [k, n] or batched a [..., m, k] @ b [..., k, n] with gradients that use explicit
 * transposes + plain matMul (wasm's transposed BatchMatMul variants are ~10x slower).
 */
function mm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a, b),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved;
        const tr = (t: tf.Tensor) => {
          const r = t.rank;
          const perm = [...Array(r).keys()];
          [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
          return tf.transpose(t, perm);
        };
        const da = tf.matMul(dy, tr(sb));
        let db: tf.Tensor;
        if (sb.rank === 2 && sa.rank > 2) {
          const k = sa.shape[sa.rank - 1];
          const n = dy.shape[dy.rank - 1];
          db = tf.matMul(tr(sa.reshape([-1, k])), dy.reshape([-1, n]));
        } else {
          db = tf.matMul(tr(sa), dy);
        }
        return [da, db];
      },
    };
  });
  return f(a, b);
}

/**
 * rows of table [V,d] at ids [N] -> [N,d]; gradient by a typed-array scatter-add (on webgpu, which cannot
 * read GPU data synchronously in Node, tfjs's own gather gradient: an UnsortedSegmentSum on the GPU).
 */
function embed(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (tf.getBackend() === 'webgpu') return tf.gather(table, ids);
  const [V, d] = table.shape;
  // read now: `ids` may be disposed (by the caller's tidy) before the backward pass runs
  const idx = ids.dataSync();
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.gather(args[0] as tf.Tensor, ids),
    gradFunc: (dy: tf.Tensor) => {
      const g = dy.dataSync() as Float32Array;
      const out = new Float32Array(V * d);
      for (let n = 0; n < idx.length; n++) {
        const o = idx[n] * d;
        const s = n * d;
        for (let j = 0; j < d; j++) out[o + j] += g[s + j];
      }
      return tf.tensor2d(out, [V, d]);
    },
  }));
  return f(table) as tf.Tensor2D;
}

function layerNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const mean = x.mean(-1, true);
  const xc = x.sub(mean);
  const v = xc.square().mean(-1, true);
  return xc.mul(v.add(eps).rsqrt()).mul(w).add(b);
}

const GELU_C = Math.sqrt(2 / Math.PI);
/** gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(GELU_C); // x*x*x: Pow's gradient is slow
  return x.mul(inner.tanh().add(1)).mul(0.5);
}

/** [T,T] additive causal mask: 0 on/below the diagonal, -1e9 above. */
const maskCache = new Map<number, Float32Array>();
function causalMask(T: number): tf.Tensor2D {
  let m = maskCache.get(T);
  if (!m) {
    m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
    maskCache.set(T, m);
  }
  return tf.tensor2d(m, [T, T]);
}

/**
 * Causal multi-head attention core on the fused projection: qkv [N=B*T, 3d] ([q | k | v], heads of hd
 * inside each) -> y [N, d] (heads merged), softmax(q k^T / sqrt(hd)) over u <= t. Plain typed-array loops
 * with a hand-written backward (the `loops` option; the default on the pure-JS cpu backend).
 */
function attentionLoops(qkv: tf.Tensor2D, B: number, T: number, H: number, hd: number): tf.Tensor2D {
  const d = H * hd;
  const d3 = 3 * d;
  const N = B * T;
  const scale = 1 / Math.sqrt(hd);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const X = (args[0] as tf.Tensor).dataSync() as Float32Array;
    const P = new Float32Array(B * H * T * T); // softmax probabilities, rows t, cols u <= t
    const Y = new Float32Array(N * d);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const pb = (b * H + h) * T * T;
        for (let t = 0; t < T; t++) {
          const qo = (b * T + t) * d3 + h * hd;
          const pr = pb + t * T;
          let mx = -Infinity;
          for (let u = 0; u <= t; u++) {
            const ko = (b * T + u) * d3 + d + h * hd;
            let s = 0;
            for (let j = 0; j < hd; j++) s += X[qo + j] * X[ko + j];
            s *= scale;
            P[pr + u] = s;
            if (s > mx) mx = s;
          }
          let sum = 0;
          for (let u = 0; u <= t; u++) {
            const e = Math.exp(P[pr + u] - mx);
            P[pr + u] = e;
            sum += e;
          }
          const inv = 1 / sum;
          const yo = (b * T + t) * d + h * hd;
          for (let u = 0; u <= t; u++) {
            const p = (P[pr + u] *= inv);
            const vo = (b * T + u) * d3 + 2 * d + h * hd;
            for (let j = 0; j < hd; j++) Y[yo + j] += p * X[vo + j];
          }
        }
      }
    }
    return {
      value: tf.tensor2d(Y, [N, d]),
      gradFunc: (dy: tf.Tensor) => {
        const G = dy.dataSync() as Float32Array;
        const DX = new Float32Array(N * d3);
        const dP = new Float32Array(T);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const pb = (b * H + h) * T * T;
            for (let t = 0; t < T; t++) {
              const go = (b * T + t) * d + h * hd;
              const qo = (b * T + t) * d3 + h * hd;
              const pr = pb + t * T;
              let dot = 0;
              for (let u = 0; u <= t; u++) {
                const p = P[pr + u];
                const vo = (b * T + u) * d3 + 2 * d + h * hd;
                let s = 0;
                for (let j = 0; j < hd; j++) {
                  s += G[go + j] * X[vo + j];
                  DX[vo + j] += p * G[go + j];
                }
                dP[u] = s;
                dot += p * s;
              }
              for (let u = 0; u <= t; u++) {
                const ds = P[pr + u] * (dP[u] - dot) * scale;
                if (ds === 0) continue;
                const ko = (b * T + u) * d3 + d + h * hd;
                for (let j = 0; j < hd; j++) {
                  DX[qo + j] += ds * X[ko + j];
                  DX[ko + j] += ds * X[qo + j];
                }
              }
            }
          }
        }
        return tf.tensor2d(DX, [N, d3]);
      },
    };
  });
  return f(qkv) as tf.Tensor2D;
}

/** The same attention core with tfjs ops: split, per-head transposes, batched matMul, additive mask, softmax. */
function attentionTensor(qkv: tf.Tensor2D, B: number, T: number, H: number, hd: number): tf.Tensor2D {
  const d = H * hd;
  const [q2, k2, v2] = tf.split(qkv, 3, 1); // each [N,d]
  const q = q2.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]); // [B,H,T,hd]
  const kT = k2.reshape([B, T, H, hd]).transpose([0, 2, 3, 1]); // [B,H,hd,T]
  const v = v2.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]); // [B,H,T,hd]
  const att = tf.softmax(
    mm(q, kT)
      .mul(1 / Math.sqrt(hd))
      .add(causalMask(T)),
    -1,
  ); // [B,H,T,T]
  return mm(att, v)
    .transpose([0, 2, 1, 3])
    .reshape([B * T, d]) as tf.Tensor2D; // [N,d]
}

export function makeGpt2(cfg: Gpt2Config): ModelDef {
  const { vocabSize: V, nPositions: P, nEmbd: d, nLayer: L, nHead: H } = cfg;
  if (d % H !== 0) throw new Error(`nEmbd ${d} must be divisible by nHead ${H}`);
  const eps = cfg.layerNormEps ?? 1e-5;
  const hd = d / H;
  const specs = gpt2Specs(cfg);

  function forward(params: tf.Tensor[], x: tf.Tensor): tf.Tensor {
    if (params.length !== specs.length)
      throw new Error(`gpt2 expects ${specs.length} parameter tensors, got ${params.length}`);
    if (x.rank !== 2) throw new Error(`gpt2 input must be [B,T] token ids, got shape [${x.shape}]`);
    const [B, T] = x.shape;
    if (T > P) throw new Error(`sequence length ${T} exceeds nPositions ${P}`);
    return tf.tidy(() => {
      const N = B * T;
      const ids = (x.dtype === 'int32' ? x : x.toInt()).reshape([N]) as tf.Tensor1D;
      const wte = params[0] as tf.Tensor2D;
      const pos = params[1].slice([0, 0], [T, d]);
      // h [B,T,d]
      let h = embed(wte, ids).reshape([B, T, d]).add(pos);
      const loops = cfg.attention === 'loops' || ((cfg.attention ?? 'auto') === 'auto' && tf.getBackend() === 'cpu');
      const attention = loops ? attentionLoops : attentionTensor;
      for (let i = 0; i < L; i++) {
        const p = params.slice(2 + PER_BLOCK * i, 2 + PER_BLOCK * (i + 1));
        const [ln1w, ln1b, caW, caB, cpW, cpB, ln2w, ln2b, fcW, fcB, mpW, mpB] = p;
        // attention
        const a = layerNorm(h, ln1w, ln1b, eps).reshape([N, d]);
        const qkv = mm(a, caW).add(caB) as tf.Tensor2D; // [N,3d]
        const y = attention(qkv, B, T, H, hd); // [N,d]
        h = h.add(mm(y, cpW).add(cpB).reshape([B, T, d]));
        // MLP
        const m = layerNorm(h, ln2w, ln2b, eps).reshape([N, d]);
        const f = geluNew(mm(m, fcW).add(fcB)); // [N,4d]
        h = h.add(mm(f, mpW).add(mpB).reshape([B, T, d]));
      }
      const nP = params.length;
      const hf = layerNorm(h, params[nP - 2], params[nP - 1], eps).reshape([N, d]);
      return mm(hf, wte.transpose()).reshape([B, T, V]); // [B,T,V]
    });
  }

  /** mean over B*T positions of -log softmax(logits)[y] */
  function loss(params: tf.Tensor[], batch: Batch): tf.Scalar {
    return tf.tidy(() => {
      const logits = forward(params, batch.x);
      const N = logits.size / V;
      const l2 = logits.reshape([N, V]);
      const y = (batch.y.dtype === 'int32' ? batch.y : batch.y.toInt()).reshape([N]) as tf.Tensor1D;
      // int32 oneHot then cast: tfjs-wasm 4.22's OneHot with dtype 'float32' returns all zeros
      const oh = tf.oneHot(y, V).toFloat();
      // logSoftmax has a closed-form gradient; logSumExp's goes through Max's (a slow Equal on wasm)
      return tf.logSoftmax(l2, -1).mul(oh).sum().div(-N) as tf.Scalar;
    });
  }

  function init(rng: Rng): Float32Array[] {
    const projStd = 0.02 / Math.sqrt(2 * L);
    return specs.map((s) => {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const out = new Float32Array(n);
      const leaf = s.name.split('.').slice(-2).join('.');
      let std = 0;
      if (/^(wte|wpe|c_attn|c_fc)\.weight$/.test(leaf)) std = 0.02;
      else if (leaf === 'c_proj.weight') std = projStd;
      else if (/^ln_(1|2|f)\.weight$/.test(leaf)) {
        out.fill(1);
        return out;
      }
      if (std > 0) for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
      return out;
    });
  }

  return {
    arch: 'gpt2',
    specs,
    graphInfo: { numHeads: H, nLayer: L, nEmbd: d, vocabSize: V, nPositions: P },
    init,
    forward,
    loss,
  };
}
