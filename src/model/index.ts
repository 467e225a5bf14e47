/**
 * Public API of src/model: nowcasters (NiNo GNN, per-parameter MLP, linefit) behind one interface,
 * the differentiable all-horizon (training) forwards for meta-training, all running the one model
 * definition in nino-layer.ts, and checkpoint I/O (official .pt /
 * safetensors+JSON, nino's own safetensors format).
 *
 *   import { loadNowcastModel, createNowcastModel, loadCheckpoint, saveCheckpoint } from '../model/index.ts';
 *   const nc = loadNowcastModel('checkpoints/nino_no_posw.pt', { chunkEdges: 65536 });
 *   const next = nc.predict({ edgeAttr, F, ctx: 5, edgeIndex, edgeType, pos, posW, numNodes, k: 40 });
 */
export * from './types.ts';
export * from './config.ts';
export * from './weights.ts';
export { NiNoGnn, sampleMessageEdges, SELF_LOOP_TYPE, type GnnRunOptions } from './gnn.ts';
export { NiNoMlp, type MlpRunOptions } from './mlp.ts';
export { gnnTrainForward, mlpTrainForward, type GraphTensorsInput, type TrainForwardOptions } from './train-ops.ts';
export { LineFit, LineFitter } from './linefit.ts';
export * from './checkpoint.ts';
export * from './registry.ts';
export { readTorchCheckpoint, type TorchTensor } from './torch-pt.ts';
