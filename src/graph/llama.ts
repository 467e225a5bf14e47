/**
 * Llama-style neural graph (HF `LlamaForCausalLM.named_parameters()`; torch Linear weights are (out, in)).
 * No official NiNo counterpart: designed by analogy with `NeuralGraphGPT` (src/graph/gpt2.ts) and, when
 * numKvHeads == numHeads, it has the same wiring as GPT-2 minus biases/wpe.
 *
 * Specs: `model.embed_tokens.weight` (V,d); per layer `model.layers.{i}.self_attn.{q,k,v,o}_proj.weight`
 * (H·dh,d) (KV·dh,d) (KV·dh,d) (d,H·dh), `mlp.{gate,up,down}_proj.weight` (I,d) (I,d) (d,I),
 * `input_layernorm.weight`, `post_attention_layernorm.weight` (d); `model.norm.weight`; optional untied
 * `lm_head.weight` (V,d). Biases are not supported (Llama has none).
 *
 * Nodes: [vocab V][input_ln_0][R0 d], per layer [heads H][q H·dh][v KV·dh][post_ln][R1 d][hidden I]
 * [next input_ln | norm][R2 d]; then [logits V] if lm_head. Edges per layer (expanded entries):
 *   input_layernorm.weight (aux→R, type 4); q_proj.weight (R→q, 7); q.head{h} (head h→its q neurons, 11);
 *   k_proj.weight (transposed like GPT: key neuron g·dh+j sits on q node (g·rep)·dh+j, k→R, 8), rep = H/KV;
 *   v_proj.weight (R→v, 9); v.head{h} (head h→v neurons of its KV group, 11); self_attn.res (R→R1 diag, 10);
 *   o_proj.weight (v node of input column h·dh+j = v[g(h)·dh+j] → R1, 1; multi-edges when rep > 1);
 *   post_attention_layernorm.weight (aux→R1, 4); gate_proj, up_proj (R1→hidden, 1, same node pairs: SwiGLU
 *   ties gate/up rows to one neuron); mlp.res (R1→R2 diag, 10); down_proj (hidden→R2, 1).
 * Final: model.norm.weight (aux→R, 4), lm_head.weight (R→logits, 1). embed_tokens edges have type 5.
 */
import { makeLayout, type ParamEntry, type ParamSpec } from '../core/params.ts';
import { GraphAssembler } from './assemble.ts';
import { EdgeType, type GraphBuildOptions, type NeuralGraph } from './types.ts';

export interface LlamaConfig {
  vocab: number;
  width: number;
  layers: number;
  heads: number;
  kvHeads?: number;
  /** MLP hidden size */
  inner: number;
  /** add an untied lm_head.weight */
  untiedHead?: boolean;
}

/** HF LlamaForCausalLM `named_parameters()` specs for a config. */
export function llamaSpecs(c: LlamaConfig): ParamSpec[] {
  const { vocab: V, width: d, heads: H, inner: I } = c;
  const KV = c.kvHeads ?? H;
  const dh = d / H;
  const s: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [V, d] }];
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}.`;
    s.push(
      { name: `${p}self_attn.q_proj.weight`, shape: [H * dh, d] },
      { name: `${p}self_attn.k_proj.weight`, shape: [KV * dh, d] },
      { name: `${p}self_attn.v_proj.weight`, shape: [KV * dh, d] },
      { name: `${p}self_attn.o_proj.weight`, shape: [d, H * dh] },
      { name: `${p}mlp.gate_proj.weight`, shape: [I, d] },
      { name: `${p}mlp.up_proj.weight`, shape: [I, d] },
      { name: `${p}mlp.down_proj.weight`, shape: [d, I] },
      { name: `${p}input_layernorm.weight`, shape: [d] },
      { name: `${p}post_attention_layernorm.weight`, shape: [d] },
    );
  }
  s.push({ name: 'model.norm.weight', shape: [d] });
  if (c.untiedHead) s.push({ name: 'lm_head.weight', shape: [V, d] });
  return s;
}

export function buildLlamaGraph(specs: readonly ParamSpec[], opts: GraphBuildOptions = {}): NeuralGraph {
  const layout = makeLayout(specs);
  const byName = new Map(layout.entries.map((e) => [e.name, e]));
  const used = new Set<string>();
  const get = (name: string): ParamEntry => {
    const e = byName.get(name);
    if (!e) throw new Error(`llama graph: missing parameter '${name}'`);
    used.add(name);
    return e;
  };
  const emb = get('model.embed_tokens.weight');
  const [V, d] = emb.shape;
  let L = 0;
  while (byName.has(`model.layers.${L}.self_attn.q_proj.weight`)) L++;
  if (L === 0) throw new Error(`llama graph: no 'model.layers.{i}.self_attn.q_proj.weight' found`);
  const H = opts.numHeads;
  if (!H) throw new Error('llama graph: numHeads is required');
  const KV = opts.numKvHeads ?? H;
  const q0 = byName.get('model.layers.0.self_attn.q_proj.weight')!;
  if (q0.shape[0] % H !== 0) throw new Error(`llama graph: q_proj rows ${q0.shape[0]} not divisible by numHeads ${H}`);
  const dh = q0.shape[0] / H;
  if (H % KV !== 0) throw new Error(`llama graph: numHeads ${H} not divisible by numKvHeads ${KV}`);
  const rep = H / KV;

  const g = new GraphAssembler('llama', layout);
  const vocab = g.alloc(V);
  const lin = (
    p: ParamEntry,
    type: number,
    row: number,
    col: number,
    extra: { rowMap?: Int32Array; colMap?: Int32Array; swap?: boolean; name?: string } = {},
  ) => {
    const [out, inp] = p.shape;
    // edge j = i*out + o, value W[o, i] = off + o*in + i
    g.dense({
      name: extra.name ?? p.name,
      shape: p.shape,
      paramType: type,
      paramName: p.name,
      rowStart: row,
      nIn: inp,
      colStart: col,
      nOut: out,
      rowMap: extra.rowMap,
      colMap: extra.colMap,
      swap: extra.swap,
      param: { off: p.offset, sI: 1, sO: inp, sF: 0, K: 1 },
    });
  };
  const norm = (p: ParamEntry, node: number, col: number) =>
    g.dense({
      name: p.name,
      shape: p.shape,
      paramType: EdgeType.norm,
      paramName: p.name,
      rowStart: node,
      nIn: 1,
      colStart: col,
      nOut: d,
      param: { off: p.offset, sI: 0, sO: 1, sF: 0, K: 1 },
    });

  let aux = g.alloc(1);
  let R = g.alloc(d);
  // embedding (V, d): vocab v → R, value off + v*d + o
  g.dense({
    name: emb.name,
    shape: emb.shape,
    paramType: EdgeType.wte,
    paramName: emb.name,
    rowStart: vocab,
    nIn: V,
    colStart: R,
    nOut: d,
    param: { off: emb.offset, sI: d, sO: 1, sF: 0, K: 1 },
  });
  for (let b = 0; b < L; b++) {
    const p = `model.layers.${b}.`;
    const qw = get(`${p}self_attn.q_proj.weight`),
      kw = get(`${p}self_attn.k_proj.weight`),
      vw = get(`${p}self_attn.v_proj.weight`),
      ow = get(`${p}self_attn.o_proj.weight`);
    const gw = get(`${p}mlp.gate_proj.weight`),
      uw = get(`${p}mlp.up_proj.weight`),
      dw = get(`${p}mlp.down_proj.weight`);
    const inLn = get(`${p}input_layernorm.weight`),
      postLn = get(`${p}post_attention_layernorm.weight`);
    const check = (e: ParamEntry, s: number[]) => {
      if (e.shape.length !== s.length || e.shape.some((x, i) => x !== s[i]))
        throw new Error(`llama graph: ${e.name} has shape [${e.shape}], expected [${s}]`);
    };
    const I = gw.shape[0];
    check(qw, [H * dh, d]);
    check(kw, [KV * dh, d]);
    check(vw, [KV * dh, d]);
    check(ow, [d, H * dh]);
    check(gw, [I, d]);
    check(uw, [I, d]);
    check(dw, [d, I]);
    check(inLn, [d]);
    check(postLn, [d]);
    const heads = g.alloc(H);
    const Q = g.alloc(H * dh);
    const Vn = g.alloc(KV * dh);
    const auxPost = g.alloc(1);
    const R1 = g.alloc(d);
    const hid = g.alloc(I);
    const auxNext = g.alloc(1);
    const R2 = g.alloc(d);
    const sa = `${p}self_attn.`;
    // key neuron g*dh+j shares the q node of the first query head of its group
    const kMap = new Int32Array(KV * dh);
    for (let gi = 0; gi < KV; gi++) for (let j = 0; j < dh; j++) kMap[gi * dh + j] = Q + gi * rep * dh + j;
    // o_proj input column h*dh+j reads value neuron g(h)*dh+j
    const oMap = new Int32Array(H * dh);
    for (let h = 0; h < H; h++) for (let j = 0; j < dh; j++) oMap[h * dh + j] = Vn + Math.floor(h / rep) * dh + j;

    norm(inLn, aux, R);
    lin(qw, EdgeType.attnQ, R, Q);
    for (let h = 0; h < H; h++)
      g.dense({
        name: `${sa}q.head${h}`,
        shape: [dh],
        paramType: EdgeType.head,
        paramName: null,
        rowStart: heads + h,
        nIn: 1,
        colStart: Q + h * dh,
        nOut: dh,
        param: null,
      });
    lin(kw, EdgeType.attnK, R, 0, { colMap: kMap, swap: true });
    lin(vw, EdgeType.attnV, R, Vn);
    for (let h = 0; h < H; h++)
      g.dense({
        name: `${sa}v.head${h}`,
        shape: [dh],
        paramType: EdgeType.head,
        paramName: null,
        rowStart: heads + h,
        nIn: 1,
        colStart: Vn + Math.floor(h / rep) * dh,
        nOut: dh,
        param: null,
      });
    g.diag(`${sa}res`, [d], EdgeType.residual, R, R1, d);
    lin(ow, EdgeType.fc, 0, R1, { rowMap: oMap });
    norm(postLn, auxPost, R1);
    lin(gw, EdgeType.fc, R1, hid);
    lin(uw, EdgeType.fc, R1, hid);
    g.diag(`${p}mlp.res`, [d], EdgeType.residual, R1, R2, d);
    lin(dw, EdgeType.fc, hid, R2);
    aux = auxNext;
    R = R2;
  }
  norm(get('model.norm.weight'), aux, R);
  if (byName.has('lm_head.weight')) {
    const hw = get('lm_head.weight');
    const logits = g.alloc(hw.shape[0]);
    lin(hw, EdgeType.fc, R, logits);
  }
  const unused = layout.entries.filter((e) => !used.has(e.name)).map((e) => e.name);
  if (unused.length)
    throw new Error(
      `llama graph: unsupported parameters ${unused.slice(0, 8).join(', ')}${unused.length > 8 ? ', …' : ''}`,
    );
  const posW = new Int32Array(g.numNodes);
  for (let v = 0; v < V; v++) posW[vocab + v] = v + 1;
  return g.finish({ maxFeat: opts.maxFeat ?? 1, selfLoops: opts.selfLoops, posW });
}
