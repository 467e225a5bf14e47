/**
 * Subgraph mode (the official NiNo wrapper's `subgraph=True`): instead of running the GNN on the whole
 * neural graph of a large transformer, run it on one transformer block at a time, which bounds the
 * memory of a nowcast by the largest block instead of the whole model.
 *
 * Partition (built once per graph, `partitionTransformerGraph`):
 *  - expanded entries are grouped by block: `transformer.h.{i}.` (GPT-2) / `model.layers.{i}.` (Llama);
 *    entries before the first block (wte, wpe, embed_tokens) join block 0, entries after the last block
 *    (ln_f, model.norm, lm_head) join the last block, anything between two blocks joins the block before;
 *  - group edges = the edges of its entries (parameter and aux edges), kept in full-graph order;
 *  - group nodes = the nodes those edges touch, renumbered 0..n'-1 in ascending full-graph order;
 *  - then one self-loop per group node, in node order (type 13, the full graph's self-loop rows are
 *    reused as features, so const 2 in slot 0 as in README §3);
 *  - posW is restricted to the group nodes.
 * A graph with no block-named entries (conv/mlp) has no partition (null): callers run the whole graph.
 * Every non-self-loop edge belongs to exactly one entry, hence to exactly one group, so every parameter
 * edge is predicted exactly once (checked when the partition is built and again at every scatter).
 * A node shared by two groups (the residual stream between blocks) has a self-loop in both; its output
 * row (ignored by toVector: self-loops carry no parameters) is taken from the first group.
 *
 * Positional encodings: by default the LPE is computed per subgraph (each group is its own graph, as the
 * GNN sees it), once, seeded with `fork('lpe-subgraph-<i>')` of the nowcaster's LPE seed. If full-graph
 * `pos` is given (GraphNowcasterOptions.pos), each group uses its rows of it instead (no eigen-solves).
 *
 * Per nowcast (`predictBySubgraph`): gather the group's rows of the full edgeAttr [E, F*ctx] into one
 * scratch buffer (sized for the largest group), model.predict on the sub-input, scatter the group's owned
 * rows into the full [E, F] output. Peak memory ~ the full edgeAttr/output plus one group's model run.
 *
 * A model with a single block gives a one-group partition equal to the full graph (same edge order, same
 * nodes if every node has an edge), so subgraph and full results coincide given the same pos.
 */
import { Rng } from '../core/rng.ts';
import { laplacianPE, EdgeType, type NeuralGraph } from '../graph/index.ts';
import type { NowcastModel } from '../model/types.ts';

/** Block index of an expanded entry name, or null if it is not inside a transformer block. */
export function blockOf(name: string): number | null {
  const m = /^(?:transformer\.h|model\.layers)\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

export interface SubgraphGroup {
  /** e.g. 'block 0' */
  label: string;
  /** block index (0-based, in block order) */
  block: number;
  /** expanded entry names in the group */
  entryNames: string[];
  /** n' */
  numNodes: number;
  /** E' = group edges + n' self-loops */
  numEdges: number;
  /** number of non-self-loop edges (the first ones) */
  numEntryEdges: number;
  /** [n'] full-graph node id of each local node (ascending) */
  nodes: Int32Array;
  /** [E'] full-graph edge (row) id of each local edge; self-loops map to the full graph's self-loop rows */
  rows: Int32Array;
  /** [E'] row of the full [E, F] output this local edge is written to, or -1 (shared node's self-loop) */
  outRows: Int32Array;
  /** [2*E'] local sources then local targets */
  edgeIndex: Int32Array;
  /** [E'] */
  edgeType: Int32Array;
  /** [n'] */
  posW: Int32Array;
}

export interface SubgraphPartition {
  groups: SubgraphGroup[];
  /** largest E' (sizes the scratch edgeAttr buffer) */
  maxEdges: number;
}

/** Splits a transformer neural graph into per-block groups; null when the graph has no blocks. */
export function partitionTransformerGraph(g: NeuralGraph): SubgraphPartition | null {
  const { entries, numNodes: N, numEdges: E, firstSelfLoopEdge: S } = g;
  const blocks = entries.map((e) => blockOf(e.name));
  const firstB = blocks.findIndex((b) => b !== null);
  if (firstB < 0) return null;
  if (E - S !== N) throw new Error(`subgraph: graph has ${E - S} self-loops for ${N} nodes (expected one per node)`);
  for (let i = 0; i < N; i++) {
    const e = S + i;
    if (g.edgeIndex[e] !== i || g.edgeIndex[E + e] !== i || g.edgeType[e] !== EdgeType.selfLoop) {
      throw new Error(
        `subgraph: edge ${e} is not the self-loop of node ${i} (self-loops must be appended in node order)`,
      );
    }
  }
  // block ids in order of appearance -> group index
  const groupOfBlock = new Map<number, number>();
  const entryGroup = new Int32Array(entries.length);
  let cur = -1;
  for (let i = 0; i < entries.length; i++) {
    const b = blocks[i];
    if (b !== null) {
      if (!groupOfBlock.has(b)) groupOfBlock.set(b, groupOfBlock.size);
      cur = groupOfBlock.get(b)!;
    }
    entryGroup[i] = cur < 0 ? 0 : cur; // before the first block: block 0's group
  }
  const nGroups = groupOfBlock.size;
  const blockIds = [...groupOfBlock.keys()];

  // every non-self-loop edge in exactly one entry
  const edgeGroup = new Int32Array(S).fill(-1);
  for (let i = 0; i < entries.length; i++) {
    const en = entries[i];
    if (!(en.edgeStart >= 0 && en.edgeEnd <= S && en.edgeStart <= en.edgeEnd)) {
      throw new Error(`subgraph: entry '${en.name}' edge range [${en.edgeStart}, ${en.edgeEnd}) outside [0, ${S})`);
    }
    for (let e = en.edgeStart; e < en.edgeEnd; e++) {
      if (edgeGroup[e] !== -1) throw new Error(`subgraph: edge ${e} belongs to two entries (second: '${en.name}')`);
      edgeGroup[e] = entryGroup[i];
    }
  }
  for (let e = 0; e < S; e++) if (edgeGroup[e] === -1) throw new Error(`subgraph: edge ${e} belongs to no entry`);

  const counts = new Int32Array(nGroups);
  for (let e = 0; e < S; e++) counts[edgeGroup[e]]++;
  const edgeLists = Array.from({ length: nGroups }, (_, k) => new Int32Array(counts[k]));
  const fill = new Int32Array(nGroups);
  for (let e = 0; e < S; e++) edgeLists[edgeGroup[e]][fill[edgeGroup[e]]++] = e; // ascending = full-graph order

  const nodeOwner = new Int32Array(N).fill(-1);
  const local = new Int32Array(N).fill(-1);
  const groups: SubgraphGroup[] = [];
  let maxEdges = 0;
  for (let k = 0; k < nGroups; k++) {
    const ge = edgeLists[k];
    const touched = new Uint8Array(N);
    for (let j = 0; j < ge.length; j++) {
      touched[g.edgeIndex[ge[j]]] = 1;
      touched[g.edgeIndex[E + ge[j]]] = 1;
    }
    let n = 0;
    for (let v = 0; v < N; v++) if (touched[v]) n++;
    const nodes = new Int32Array(n);
    n = 0;
    for (let v = 0; v < N; v++)
      if (touched[v]) {
        local[v] = n;
        nodes[n++] = v;
      }
    const Ek = ge.length + n;
    const rows = new Int32Array(Ek);
    const outRows = new Int32Array(Ek);
    const edgeIndex = new Int32Array(2 * Ek);
    const edgeType = new Int32Array(Ek);
    for (let j = 0; j < ge.length; j++) {
      const e = ge[j];
      rows[j] = e;
      outRows[j] = e;
      edgeIndex[j] = local[g.edgeIndex[e]];
      edgeIndex[Ek + j] = local[g.edgeIndex[E + e]];
      edgeType[j] = g.edgeType[e];
    }
    const posW = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = nodes[i],
        j = ge.length + i;
      rows[j] = S + v;
      if (nodeOwner[v] === -1) nodeOwner[v] = k;
      outRows[j] = nodeOwner[v] === k ? S + v : -1;
      edgeIndex[j] = i;
      edgeIndex[Ek + j] = i;
      edgeType[j] = EdgeType.selfLoop;
      posW[i] = g.posW[v];
    }
    for (let i = 0; i < n; i++) local[nodes[i]] = -1;
    maxEdges = Math.max(maxEdges, Ek);
    groups.push({
      label: `block ${blockIds[k]}`,
      block: blockIds[k],
      entryNames: entries.filter((_, i) => entryGroup[i] === k).map((e) => e.name),
      numNodes: n,
      numEdges: Ek,
      numEntryEdges: ge.length,
      nodes,
      rows,
      outRows,
      edgeIndex,
      edgeType,
      posW,
    });
  }
  // isolated nodes (no edge but their self-loop) are owned by no group: give them to the first group
  // so that every output row is written once (their rows carry no parameters)
  const orphans: number[] = [];
  for (let v = 0; v < N; v++) if (nodeOwner[v] === -1) orphans.push(v);
  if (orphans.length) groups[0] = withExtraNodes(groups[0], orphans, g);
  maxEdges = Math.max(maxEdges, groups[0].numEdges);
  checkPartition(g, groups);
  return { groups, maxEdges };
}

/** Adds isolated nodes (self-loop only) to a group. */
function withExtraNodes(gr: SubgraphGroup, extra: number[], g: NeuralGraph): SubgraphGroup {
  const S = g.firstSelfLoopEdge;
  const nodes = Int32Array.from([...gr.nodes, ...extra]).sort();
  const local = new Map<number, number>();
  nodes.forEach((v, i) => local.set(v, i));
  const m = gr.numEntryEdges,
    n = nodes.length,
    Ek = m + n,
    E0 = gr.numEdges;
  const rows = new Int32Array(Ek),
    outRows = new Int32Array(Ek),
    edgeIndex = new Int32Array(2 * Ek),
    edgeType = new Int32Array(Ek);
  const posW = new Int32Array(n);
  const owned = new Set<number>();
  for (let j = m; j < E0; j++) if (gr.outRows[j] >= 0) owned.add(gr.nodes[j - m]);
  for (const v of extra) owned.add(v);
  for (let j = 0; j < m; j++) {
    rows[j] = gr.rows[j];
    outRows[j] = gr.outRows[j];
    edgeIndex[j] = local.get(gr.nodes[gr.edgeIndex[j]])!;
    edgeIndex[Ek + j] = local.get(gr.nodes[gr.edgeIndex[E0 + j]])!;
    edgeType[j] = gr.edgeType[j];
  }
  for (let i = 0; i < n; i++) {
    const v = nodes[i],
      j = m + i;
    rows[j] = S + v;
    outRows[j] = owned.has(v) ? S + v : -1;
    edgeIndex[j] = i;
    edgeIndex[Ek + j] = i;
    edgeType[j] = EdgeType.selfLoop;
    posW[i] = g.posW[v];
  }
  return { ...gr, numNodes: n, numEdges: Ek, nodes, rows, outRows, edgeIndex, edgeType, posW };
}

/**
 * Checks a partition: every output row written by exactly one group (so every parameter edge predicted
 * exactly once) and every group edge between the group's own nodes. Throws on violation.
 */
export function checkPartition(g: NeuralGraph, groups: readonly SubgraphGroup[]): void {
  const written = new Uint8Array(g.numEdges);
  for (const gr of groups) {
    const Ek = gr.numEdges;
    if (
      gr.rows.length !== Ek ||
      gr.outRows.length !== Ek ||
      gr.edgeIndex.length !== 2 * Ek ||
      gr.edgeType.length !== Ek
    ) {
      throw new Error(`subgraph ${gr.label}: array sizes disagree with ${Ek} edges`);
    }
    for (let j = 0; j < Ek; j++) {
      const s = gr.edgeIndex[j],
        t = gr.edgeIndex[Ek + j];
      if (!(s >= 0 && s < gr.numNodes && t >= 0 && t < gr.numNodes))
        throw new Error(`subgraph ${gr.label}: edge ${j} (${s}->${t}) outside its ${gr.numNodes} nodes`);
      const r = gr.rows[j];
      if (
        g.edgeIndex[r] !== gr.nodes[s] ||
        g.edgeIndex[g.numEdges + r] !== gr.nodes[t] ||
        g.edgeType[r] !== gr.edgeType[j]
      ) {
        throw new Error(`subgraph ${gr.label}: edge ${j} does not match full-graph edge ${r}`);
      }
      const o = gr.outRows[j];
      if (o >= 0) {
        if (o !== r) throw new Error(`subgraph ${gr.label}: edge ${j} reads row ${r} but writes row ${o}`);
        if (written[o]++) throw new Error(`subgraph: edge ${o} predicted by two groups (second: ${gr.label})`);
      }
    }
  }
  for (let e = 0; e < g.numEdges; e++)
    if (written[e] !== 1) throw new Error(`subgraph: edge ${e} predicted ${written[e]} times`);
}

/** Per-group LPE [n'*k], computed on each group's own graph, seeded per group. */
export function subgraphPositions(part: SubgraphPartition, k: number, lpeSeed: number): Float32Array[] {
  const base = new Rng(lpeSeed);
  return part.groups.map(
    (gr, i) =>
      laplacianPE(
        { numNodes: gr.numNodes, numEdges: gr.numEdges, edgeIndex: gr.edgeIndex },
        { k, rng: base.fork(`lpe-subgraph-${i}`) },
      ).pos,
  );
}

/** Rows of a full-graph pos [N*k] restricted to each group's nodes. */
export function slicePositions(part: SubgraphPartition, pos: Float32Array, k: number): Float32Array[] {
  return part.groups.map((gr) => {
    const out = new Float32Array(gr.numNodes * k);
    for (let i = 0; i < gr.numNodes; i++) out.set(pos.subarray(gr.nodes[i] * k, gr.nodes[i] * k + k), i * k);
    return out;
  });
}

/**
 * One nowcast group by group: [E, F] model output for the full graph's edgeAttr [E, F*ctx].
 * `scratch` (optional) is reused for the per-group edgeAttr (>= maxEdges*F*ctx floats).
 */
export function predictBySubgraph(
  model: Pick<NowcastModel, 'predict'>,
  g: NeuralGraph,
  part: SubgraphPartition,
  edgeAttr: Float32Array,
  o: { ctx: number; k: number; pos?: Float32Array[]; scratch?: Float32Array },
): Float32Array {
  const F = g.maxFeat,
    W = F * o.ctx;
  if (edgeAttr.length !== g.numEdges * W)
    throw new Error(`edgeAttr has ${edgeAttr.length} values, expected ${g.numEdges}*${W}`);
  const scratch = o.scratch && o.scratch.length >= part.maxEdges * W ? o.scratch : new Float32Array(part.maxEdges * W);
  const out = new Float32Array(g.numEdges * F);
  const written = new Uint8Array(g.numEdges);
  part.groups.forEach((gr, gi) => {
    const Ek = gr.numEdges;
    const sub = scratch.subarray(0, Ek * W);
    for (let j = 0; j < Ek; j++) sub.set(edgeAttr.subarray(gr.rows[j] * W, gr.rows[j] * W + W), j * W);
    const pred = model.predict({
      edgeAttr: sub,
      F,
      ctx: o.ctx,
      edgeIndex: gr.edgeIndex,
      edgeType: gr.edgeType,
      pos: o.pos?.[gi],
      posW: gr.posW,
      numNodes: gr.numNodes,
      k: o.k,
    });
    for (let j = 0; j < Ek; j++) {
      const r = gr.outRows[j];
      if (r < 0) continue;
      written[r]++;
      for (let f = 0; f < F; f++) out[r * F + f] = pred[j * F + f];
    }
  });
  for (let e = 0; e < g.numEdges; e++) {
    if (written[e] !== 1) throw new Error(`subgraph nowcast: edge ${e} predicted ${written[e]} times (expected once)`);
  }
  return out;
}
