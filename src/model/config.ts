/**
 * NiNo model hyper-parameters: the official `NiNoModel.__init__` arguments mapped to a typed config,
 * plus the list of weight tensors (official state_dict names and shapes) each config needs.
 *
 *   const cfg = configFromOfficialArgs({ wte_pos_enc: false });   // nino_no_posw
 *   weightSpecs(cfg)  ->  [{ name: 'layer_embed.weight', shape: [15, 128] }, ...]
 */
export interface NiNoConfig {
  /** 'gnn' = NiNoModel with PNA message passing; 'mlp' = graph-free per-parameter MLP (gnn=False) */
  kind: 'gnn' | 'mlp';
  ctx: number;
  hid: number;
  /** PNA layers (GNN only); with finalEdgeUpdate=false only layers-1 convs affect the output */
  layers: number;
  /** DMS horizons (official max_seq_len) */
  maxHorizon: number;
  /** max feature slots per edge (official max_feat_size) */
  maxFeat: number;
  /** rows of layer_embed (0 = no edge-type embedding) */
  edgeTypes: number;
  /** LPE columns fed to node_proj (GNN only) */
  lpe: number;
  /** add wte_pos_enc_layer.weight[pos_w] (vocabSize+1 rows) to node features (GNN only) */
  wtePosEnc: boolean;
  vocabSize: number;
  /** prediction = last + updScale * delta */
  updScale: number;
  /** official PNA final_edge_update (false in all released checkpoints) */
  finalEdgeUpdate: boolean;
  /** default fraction of non-self-loop edges dropped from message passing (0 = none) */
  edgeSampleRatio: number;
}

/** Official NiNoModel defaults (optim/model.py). */
export const OFFICIAL_DEFAULTS = {
  ctx: 5,
  hid: 128,
  layers: 3,
  gnn: true,
  dms: true,
  max_feat_size: 9,
  input_layer: 'linear',
  act_name: 'silu',
  residual: true,
  max_seq_len: 40,
  improved_graph: true,
  wte_pos_enc: true,
  vocab_size: 50257,
  edge_types: 15,
  lpe: 8,
  upd_scale: 1.0,
  edge_sample_ratio: 0.0,
  final_edge_update: false,
} as const;

const IGNORED = new Set(['chunk_size', 'message_passing_device', 'scale_method', 'is_mlp', 'n_msg_layers', 'pna']);

/** Maps official model_args (overrides of the defaults) or hyperparameters_resolved to a config. */
export function configFromOfficialArgs(args: Record<string, unknown>): NiNoConfig {
  const a: Record<string, unknown> = { ...OFFICIAL_DEFAULTS, ...args };
  if ('seq_len' in args && !('max_seq_len' in args)) a.max_seq_len = args.seq_len;
  const gnn = !(a.gnn === false || a.gnn === null || a.gnn === 'None' || a.gnn === 'none');
  const bad = (k: string, v: unknown, want: string) => {
    throw new Error(`unsupported NiNo model arg ${k}=${JSON.stringify(v)} (nino supports ${want})`);
  };
  if (a.dms !== true) bad('dms', a.dms, 'dms=true');
  if (a.input_layer !== 'linear') bad('input_layer', a.input_layer, "'linear'");
  if (a.act_name !== 'silu') bad('act_name', a.act_name, "'silu'");
  if (a.residual !== true) bad('residual', a.residual, 'residual=true');
  if (gnn && a.improved_graph !== true) bad('improved_graph', a.improved_graph, 'improved_graph=true');
  for (const k of Object.keys(args)) {
    if (!(k in OFFICIAL_DEFAULTS) && !IGNORED.has(k) && k !== 'seq_len') {
      // PNA kwargs that the official model hard-codes are harmless; anything else is unknown
      if (!['aggregators', 'scalers', 'towers', 'pre_layers', 'post_layers'].includes(k)) {
        throw new Error(`unknown NiNo model arg '${k}'`);
      }
    }
  }
  return {
    kind: gnn ? 'gnn' : 'mlp',
    ctx: Number(a.ctx),
    hid: Number(a.hid),
    layers: Number(a.layers),
    maxHorizon: Number(a.max_seq_len),
    maxFeat: a.max_feat_size == null ? 1 : Number(a.max_feat_size),
    edgeTypes: Number(a.edge_types),
    lpe: Number(a.lpe),
    wtePosEnc: gnn && Boolean(a.wte_pos_enc),
    vocabSize: Number(a.vocab_size),
    updScale: Number(a.upd_scale),
    finalEdgeUpdate: Boolean(a.final_edge_update),
    edgeSampleRatio: Number(a.edge_sample_ratio),
  };
}

/** Inverse of configFromOfficialArgs: full official-style model_args (round-trips). */
export function configToOfficialArgs(c: NiNoConfig): Record<string, unknown> {
  return {
    ctx: c.ctx,
    hid: c.hid,
    layers: c.layers,
    gnn: c.kind === 'gnn',
    max_feat_size: c.maxFeat,
    max_seq_len: c.maxHorizon,
    wte_pos_enc: c.wtePosEnc,
    vocab_size: c.vocabSize,
    edge_types: c.edgeTypes,
    lpe: c.lpe,
    upd_scale: c.updScale,
    final_edge_update: c.finalEdgeUpdate,
    edge_sample_ratio: c.edgeSampleRatio,
  };
}

/** A fully specified config with nino's defaults (the official best model) and overrides. */
export function makeConfig(kind: 'gnn' | 'mlp', over: Partial<NiNoConfig> = {}): NiNoConfig {
  return { ...configFromOfficialArgs({ gnn: kind === 'gnn' }), ...over, kind };
}

export interface WeightSpec {
  name: string;
  shape: number[];
  /** 'w' = Linear weight / embedding (init normal(0, 0.02)), 'b' = bias (init 0) */
  init: 'w' | 'b';
}

/** All weight tensors of a config, official names, (out, in) Linear layout. */
export function weightSpecs(c: NiNoConfig): WeightSpec[] {
  const H = c.hid;
  const out: WeightSpec[] = [];
  const lin = (name: string, o: number, i: number) => {
    out.push({ name: `${name}.weight`, shape: [o, i], init: 'w' });
    out.push({ name: `${name}.bias`, shape: [o], init: 'b' });
  };
  if (c.edgeTypes > 0) out.push({ name: 'layer_embed.weight', shape: [c.edgeTypes, H], init: 'w' });
  if (c.kind === 'mlp') {
    lin('edge_proj.fc.0', H, c.ctx);
    lin('edge_mlp.fc.0', H, H);
    lin('edge_mlp.fc.2', H, H);
    lin('edge_mlp.fc.4', H, H);
    lin('edge_mlp.fc.6', c.maxHorizon, H);
    return out;
  }
  if (c.wtePosEnc) out.push({ name: 'wte_pos_enc_layer.weight', shape: [c.vocabSize + 1, H], init: 'w' });
  if (c.lpe > 0 || !c.wtePosEnc) lin('node_proj.fc.0', H, Math.max(1, c.lpe));
  lin('edge_proj.fc.0', H, c.maxFeat * c.ctx);
  lin('edge_out.fc.0', H, H);
  lin('edge_out.fc.2', c.maxFeat * c.maxHorizon, H);
  for (let l = 0; l < c.layers; l++) {
    const p = `gnn.convs.${l}`;
    lin(`${p}.edge_encoder`, 2 * H, H);
    lin(`${p}.pre_nns.0.0`, H, 2 * H);
    lin(`${p}.post_nns.0.0`, H, 2 * H);
    lin(`${p}.lin`, H, H);
  }
  const nUpd = c.finalEdgeUpdate ? c.layers : c.layers - 1;
  for (let l = 0; l < nUpd; l++) {
    for (const n of ['lin_e', 'lin_s', 'lin_t', 'lin1']) lin(`gnn.edge_update.${l}.${n}`, H, H);
  }
  return out;
}
