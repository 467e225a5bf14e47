/**
 * The nowcaster contract shared by every parameter-prediction model in nino (NiNo GNN, per-parameter
 * MLP baseline, weight-free line fit). The optimizer wrapper and the benchmarks only see this.
 *
 * Data layout (all row-major, float32, "scaled space" = after per-tensor std scaling):
 *   edgeAttr  [E, F*ctx]   column f*ctx + t = feature slot f, state t (oldest first)
 *   edgeIndex [2*E]        first E = source node, last E = target node
 *   edgeType  [E]          parameter type id (0..edgeTypes-1; 13 = self-loop)
 *   pos       [N*lpe]      Laplacian positional encoding (GNN only)
 *   posW      [N]          token-position ids for the wte_pos_enc embedding (GNN with wtePosEnc only)
 *   result    [E, F]       delta (predictDelta) or predicted value (predict), scaled space
 */
export interface NowcastInput {
  /** [E, F*ctx] */
  edgeAttr: Float32Array;
  /** feature slots per edge (9 for 3x3 convs, 1 for transformers) */
  F: number;
  /** number of states per edge (5 for all official checkpoints) */
  ctx: number;
  /** [2*E]: sources then targets */
  edgeIndex: Int32Array;
  /** [E] */
  edgeType: Int32Array;
  /** [N*lpe] */
  pos?: Float32Array;
  /** [N] */
  posW?: Int32Array;
  numNodes: number;
  /** horizon in state intervals, 1..maxHorizon */
  k: number;
}

export type NowcastModelKind = 'gnn' | 'mlp' | 'linefit';

export interface NowcastModel {
  /** registry name, e.g. 'nino', 'nino_mlp', 'linefit' */
  readonly name: string;
  readonly kind: NowcastModelKind;
  /** number of states the model consumes */
  readonly ctx: number;
  /** largest supported horizon k (DMS length); Infinity for linefit */
  readonly maxHorizon: number;
  /** largest F the model supports */
  readonly maxFeat: number;
  /** true when the model uses edgeIndex/pos (message passing) */
  readonly needsGraph: boolean;
  /** number of LPE columns expected in pos (0 = pos unused) */
  readonly lpe: number;
  /** prediction = last + updScale * delta */
  readonly updScale: number;
  /** [E, F] model output before the residual, scaled space */
  predictDelta(input: NowcastInput): Float32Array;
  /** [E, F] = edgeAttr[:, f*ctx + ctx-1] + updScale * delta */
  predict(input: NowcastInput): Float32Array;
  /** frees tensors held by the model (weights); the object is unusable afterwards */
  dispose(): void;
}

/** Checks the common shape contract; throws with a precise message. */
export function validateInput(inp: NowcastInput, ctxExpected: number, maxFeat: number, maxHorizon: number): number {
  const { edgeAttr, F, ctx, edgeType, k } = inp;
  if (ctx !== ctxExpected) throw new Error(`nowcaster expects ctx=${ctxExpected} states, got ctx=${ctx}`);
  if (!(F >= 1 && F <= maxFeat)) throw new Error(`F=${F} out of range 1..${maxFeat}`);
  const E = edgeType.length;
  if (edgeAttr.length !== E * F * ctx) {
    throw new Error(`edgeAttr has ${edgeAttr.length} values, expected E*F*ctx = ${E}*${F}*${ctx} = ${E * F * ctx}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > maxHorizon) throw new Error(`k=${k} out of range 1..${maxHorizon}`);
  return E;
}

/** [E, F] residual: last + updScale * delta (delta is [E, F]). */
export function applyResidual(inp: NowcastInput, delta: Float32Array, updScale: number): Float32Array {
  const { edgeAttr, F, ctx } = inp;
  const E = delta.length / F;
  const out = new Float32Array(delta.length);
  for (let e = 0; e < E; e++) {
    for (let f = 0; f < F; f++) {
      const last = edgeAttr[e * F * ctx + f * ctx + ctx - 1];
      out[e * F + f] = Math.fround(last + Math.fround(updScale * delta[e * F + f]));
    }
  }
  return out;
}
