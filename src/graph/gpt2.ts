/**
 * GPT-2 neural graph (official `graph/graph_gpt.py: NeuralGraphGPT`, model_first_dim_out=False, pos_w).
 * Takes HF `GPT2LMHeadModel.named_parameters()` specs (`transformer.wte.weight` (V,d), `wpe` (P,d),
 * `h.{i}.ln_1/attn.c_attn/attn.c_proj/ln_2/mlp.c_fc/mlp.c_proj.{weight,bias}`, `ln_f`; Conv1D weights are
 * (in, out); lm_head tied, so absent).
 *
 * Expanded entries per block: ln_1.weight, ln_1.bias, c_attn.q.weight, q.head{h}, q.bias, k.weight (transposed:
 * q neurons → residual), k.bias (on the residual), v.weight, v.head{h}, v.bias, v.res (residual → post-attn
 * residual, diagonal), c_proj.weight/bias, ln_2.weight/bias, c_fc.weight/bias, c_fc.res (diagonal),
 * mlp.c_proj.weight/bias; then ln_f. Node order (README §2, case B):
 *   [vocab V][pos P][ln_1 w, ln_1 b, k bias][R0 d]
 *   per block: [heads H][q bias][v bias][q d][v d][c_proj b, ln_2 w, ln_2 b][R1 d][c_fc b][hidden n_inner]
 *              [mlp c_proj b][next ln_1 w, ln_1 b, k bias | ln_f w, ln_f b][R2 d]
 * posW: vocab node v → v+1, others 0. Options: numHeads (required).
 */
import { makeLayout, type ParamEntry, type ParamSpec } from '../core/params.ts';
import { GraphAssembler } from './assemble.ts';
import { EdgeType, type GraphBuildOptions, type NeuralGraph } from './types.ts';

export function buildGpt2Graph(specs: readonly ParamSpec[], opts: GraphBuildOptions = {}): NeuralGraph {
  const layout = makeLayout(specs);
  const byName = new Map(layout.entries.map((e) => [e.name, e]));
  const used = new Set<string>();
  const wteEntry = layout.entries.find((e) => e.name.endsWith('wte.weight'));
  if (!wteEntry) throw new Error(`gpt2 graph: no '*wte.weight' tensor among ${layout.entries.length} specs`);
  const pre = wteEntry.name.slice(0, -'wte.weight'.length); // e.g. 'transformer.'
  const get = (name: string): ParamEntry => {
    const e = byName.get(name);
    if (!e) throw new Error(`gpt2 graph: missing parameter '${name}'`);
    used.add(name);
    return e;
  };
  const wte = get(`${pre}wte.weight`);
  const wpe = get(`${pre}wpe.weight`);
  const [V, d] = wte.shape;
  const P = wpe.shape[0];
  if (wpe.shape[1] !== d) throw new Error(`gpt2 graph: wpe width ${wpe.shape[1]} != wte width ${d}`);
  let L = 0;
  while (byName.has(`${pre}h.${L}.attn.c_attn.weight`)) L++;
  if (L === 0) throw new Error(`gpt2 graph: no blocks '${pre}h.{i}.attn.c_attn.weight' found`);
  const H = opts.numHeads;
  if (!H || d % H !== 0) throw new Error(`gpt2 graph: numHeads (${H}) must be given and divide the width ${d}`);
  const dh = d / H;

  const g = new GraphAssembler('gpt2', layout);
  const vocab = g.alloc(V);
  const pos = g.alloc(P);
  const bias1 = (
    name: string,
    p: ParamEntry,
    type: number,
    node: number,
    col: number,
    n: number,
    off = p.offset,
    shape = p.shape,
  ) =>
    g.dense({
      name,
      shape,
      paramType: type,
      paramName: p.name,
      rowStart: node,
      nIn: 1,
      colStart: col,
      nOut: n,
      param: { off, sI: 0, sO: 1, sF: 0, K: 1 },
    });
  const conv1d = (name: string, p: ParamEntry, type: number, row: number, col: number) =>
    g.dense({
      name,
      shape: p.shape,
      paramType: type,
      paramName: p.name,
      rowStart: row,
      nIn: p.shape[0],
      colStart: col,
      nOut: p.shape[1],
      param: { off: p.offset, sI: p.shape[1], sO: 1, sF: 0, K: 1 },
    });

  // aux nodes of R0 = block 0's ln_1 w/b and k bias
  let aux = g.alloc(3);
  let R = g.alloc(d);
  conv1d(wte.name, wte, EdgeType.wte, vocab, R);
  conv1d(wpe.name, wpe, EdgeType.wpe, pos, R);
  for (let b = 0; b < L; b++) {
    const h = `${pre}h.${b}.`;
    const ln1w = get(`${h}ln_1.weight`),
      ln1b = get(`${h}ln_1.bias`);
    const caw = get(`${h}attn.c_attn.weight`),
      cab = get(`${h}attn.c_attn.bias`);
    const cpw = get(`${h}attn.c_proj.weight`),
      cpb = get(`${h}attn.c_proj.bias`);
    const ln2w = get(`${h}ln_2.weight`),
      ln2b = get(`${h}ln_2.bias`);
    const fcw = get(`${h}mlp.c_fc.weight`),
      fcb = get(`${h}mlp.c_fc.bias`);
    const mpw = get(`${h}mlp.c_proj.weight`),
      mpb = get(`${h}mlp.c_proj.bias`);
    if (caw.shape[0] !== d || caw.shape[1] !== 3 * d)
      throw new Error(`gpt2 graph: ${caw.name} has shape [${caw.shape}], expected [${d}, ${3 * d}]`);
    const nInner = fcw.shape[1];
    const heads = g.alloc(H);
    const qBiasNode = g.alloc(1),
      vBiasNode = g.alloc(1);
    const Q = g.alloc(d),
      Vn = g.alloc(d);
    const aux1 = g.alloc(3);
    const R1 = g.alloc(d);
    const fcBiasNode = g.alloc(1);
    const hid = g.alloc(nInner);
    const mpBiasNode = g.alloc(1);
    const last = b === L - 1;
    const auxNext = g.alloc(last ? 2 : 3);
    const R2 = g.alloc(d);
    const ca = `${h}attn.c_attn.`;

    bias1(ln1w.name, ln1w, EdgeType.norm, aux, R, d);
    bias1(ln1b.name, ln1b, EdgeType.bias, aux + 1, R, d);
    const qkv = (which: number, type: number, swap: boolean, name: string) =>
      g.dense({
        name,
        shape: [d, d],
        paramType: type,
        paramName: caw.name,
        rowStart: R,
        nIn: d,
        colStart: Q,
        nOut: d,
        swap,
        param: { off: caw.offset + which * d, sI: 3 * d, sO: 1, sF: 0, K: 1 },
      });
    const headEdges = (qv: string, tgt: number) => {
      for (let k = 0; k < H; k++)
        g.dense({
          name: `${ca}${qv}.head${k}`,
          shape: [dh],
          paramType: EdgeType.head,
          paramName: null,
          rowStart: heads + k,
          nIn: 1,
          colStart: tgt + k * dh,
          nOut: dh,
          param: null,
        });
    };
    qkv(0, EdgeType.attnQ, false, `${ca}q.weight`);
    headEdges('q', Q);
    bias1(`${ca}q.bias`, cab, EdgeType.bias, qBiasNode, Q, d, cab.offset, [d]);
    qkv(1, EdgeType.attnK, true, `${ca}k.weight`);
    bias1(`${ca}k.bias`, cab, EdgeType.bias, aux + 2, R, d, cab.offset + d, [d]);
    g.dense({
      name: `${ca}v.weight`,
      shape: [d, d],
      paramType: EdgeType.attnV,
      paramName: caw.name,
      rowStart: R,
      nIn: d,
      colStart: Vn,
      nOut: d,
      param: { off: caw.offset + 2 * d, sI: 3 * d, sO: 1, sF: 0, K: 1 },
    });
    headEdges('v', Vn);
    bias1(`${ca}v.bias`, cab, EdgeType.bias, vBiasNode, Vn, d, cab.offset + 2 * d, [d]);
    g.diag(`${ca}v.res`, [d], EdgeType.residual, R, R1, d);
    conv1d(cpw.name, cpw, EdgeType.fc, Vn, R1);
    bias1(cpb.name, cpb, EdgeType.bias, aux1, R1, d);
    bias1(ln2w.name, ln2w, EdgeType.norm, aux1 + 1, R1, d);
    bias1(ln2b.name, ln2b, EdgeType.bias, aux1 + 2, R1, d);
    conv1d(fcw.name, fcw, EdgeType.fc, R1, hid);
    bias1(fcb.name, fcb, EdgeType.bias, fcBiasNode, hid, nInner);
    g.diag(`${h}mlp.c_fc.res`, [d], EdgeType.residual, R1, R2, d);
    conv1d(mpw.name, mpw, EdgeType.fc, hid, R2);
    bias1(mpb.name, mpb, EdgeType.bias, mpBiasNode, R2, d);
    aux = auxNext;
    R = R2;
  }
  const lnfw = get(`${pre}ln_f.weight`),
    lnfb = get(`${pre}ln_f.bias`);
  bias1(lnfw.name, lnfw, EdgeType.norm, aux, R, d);
  bias1(lnfb.name, lnfb, EdgeType.bias, aux + 1, R, d);
  const unused = layout.entries.filter((e) => !used.has(e.name)).map((e) => e.name);
  if (unused.length)
    throw new Error(`gpt2 graph: unsupported parameters ${unused.join(', ')} (an untied lm_head is not supported)`);
  const posW = new Int32Array(g.numNodes);
  for (let v = 0; v < V; v++) posW[vocab + v] = v + 1;
  return g.finish({ maxFeat: opts.maxFeat ?? 1, selfLoops: opts.selfLoops, posW });
}
