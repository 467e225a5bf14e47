/**
 * The public entry point of the `nino` package (`import { ... } from 'nino'`): what a library user needs
 * to nowcast a tfjs model's parameters. Everything here is plain library code; the CLI (src/cli), the
 * benchmark (src/bench), progress bars/pino and the task datasets are not in this module's import graph
 * (test/package.test.ts checks it), so importing nino loads tfjs, apache-arrow and nino's own code only.
 *
 *   import * as tf from '@tensorflow/tfjs';
 *   import { initBackend, NiNoOptimizer } from 'nino';
 *   await initBackend('wasm');                       // tfjs wasm + nino's kernels (the fast CPU path)
 *   model.compile({ optimizer: new NiNoOptimizer({ baseOpt: tf.train.adam(6e-3), model, period: 1000 }), loss, metrics });
 *
 * Groups: backend set-up; parameters and the optimizer seam; neural graphs; nowcasters and checkpoints;
 * the NiNo wrapper and nowcaster resolution; offline nowcasting of saved states; trajectories (Arrow);
 * model definitions (ModelDef and the built-in conv net / GPT-2).
 *
 * Library code reads no environment variables: settings such as dataset folders, `officialDir` (where
 * 'official:<name>' checkpoints are looked for first) and the backend are options of the calls.
 */

// Backend set-up: initBackend('wasm') imports @tensorflow/tfjs-backend-wasm, registers nino's wasm
// kernels and selects the backend; registerNinoWasmKernels() is for users who set up wasm themselves.
export { initBackend, activeBackend, parseBackendName, BACKENDS, type BackendName } from './core/backend.ts';
export { registerNinoWasmKernels, NINO_WASM_KERNELS, WRAPPED_STOCK_KERNELS } from './core/kernels/register.ts';

// Logging seam (pino's method shape; nino never prints) and progress callbacks.
export { silentLogger, type Logger, type ProgressFn } from './core/logger.ts';
export { MissingOptionalDependency } from './core/optional.ts';
export { TOOL_VERSION } from './core/version.ts';

// Parameters: specs (PyTorch names/shapes), flat layouts, safetensors, seeded RNG.
export { makeLayout, numel, entryByName, type ParamSpec, type ParamEntry, type ParamLayout } from './core/params.ts';
export { flatten, unflattenInto } from './core/flat.ts';
export {
  readSafetensors,
  writeSafetensors,
  type DType,
  type TypedArray,
  type StTensor,
  type Safetensors,
} from './core/safetensors.ts';
export { Rng } from './core/rng.ts';

// The optimizer seam nino's own loops use, and AdamW (PyTorch semantics).
export type { Optimizer, OptimizerState } from './optim/types.ts';
export { AdamW, type AdamWOptions } from './optim/adamw.ts';

// Neural graphs: builders per architecture, edge features, Laplacian positional encodings.
export {
  buildNeuralGraph,
  registerGraphBuilder,
  graphBuilderNames,
  buildSequentialGraph,
  buildGpt2Graph,
  buildLlamaGraph,
  llamaSpecs,
  toEdges,
  toVector,
  lastState,
  laplacianPE,
  GraphAssembler,
  EdgeType,
  NUM_EDGE_TYPES,
  type LlamaConfig,
  type LpeOptions,
  type LpeResult,
  type GraphEntry,
  type NeuralGraph,
  type GraphBuildOptions,
  type GraphBuilder,
} from './graph/index.ts';

// NowcastModel models (NiNo GNN, per-parameter MLP, linefit) and checkpoints (official .pt /
// safetensors+JSON, nino's safetensors format).
export {
  loadNowcastModel,
  createNowcastModel,
  nowcasterFromCheckpoint,
  nowcasterNames,
  loadCheckpoint,
  parseCheckpoint,
  saveCheckpoint,
  serializeCheckpoint,
  readTorchCheckpoint,
  makeConfig,
  configFromOfficialArgs,
  configToOfficialArgs,
  OFFICIAL_DEFAULTS,
  NiNoGnn,
  NiNoMlp,
  LineFit,
  type NowcastModel,
  type NowcastModelKind,
  type NowcastInput,
  type NowcastModelOptions,
  type Checkpoint,
  type NiNoConfig,
  type HostTensor,
  type HostWeights,
  type TorchTensor,
} from './model/index.ts';

// The NiNo wrapper (base optimizer + a nowcast every `period` steps), its horizon schedule, and
// nowcaster references ('project', 'project-mlp', 'official:<name>', 'linefit', a checkpoint path).
export {
  createNiNo,
  defaultNowcasterRef,
  NiNo,
  GraphNowcaster,
  resolveNowcaster,
  nowcasterLabel,
  horizonSchedule,
  nowcastSteps,
  type CreateNiNoOptions,
  type NiNoOptions,
  type Nowcaster,
} from './nowcast/index.ts';
export {
  nowcasterPath,
  officialDirs,
  PROJECT_CHECKPOINT,
  type NowcasterPathOptions,
  type ResolveNowcasterOptions,
} from './nowcast/resolve.ts';
export { DEFAULT_JUMP_SCALES, type JumpCheck, type NowcastEvent } from './nowcast/nino.ts';
export type { GraphNowcasterOptions } from './nowcast/graph-nowcaster.ts';

// Offline nowcasting of saved parameter states (the official nino_step.py use case).
export {
  readStateFiles,
  nowcastStates,
  writeParams,
  guessArch,
  type LoadedStates,
  type OfflineNowcastOptions,
} from './nowcast/offline.ts';

// Trajectories: the Arrow file format `nino collect` writes and `nino train-nino` reads.
export {
  readTrajectory,
  writeTrajectory,
  trajectoryToIPC,
  trajectoryFromTable,
  TrajectoryFormatError,
  type Trajectory,
} from './trajectories/arrow.ts';
export {
  TRAJECTORY_SCHEMA_VERSION,
  METRIC_COLUMNS,
  type MetricName,
  type TrajectoryMeta,
  type TrajectoryRecord,
} from './trajectories/schema.ts';
export { scaleStates, unscaleVector, type ScaleResult } from './trajectories/scale.ts';

// Model definitions: the ModelDef contract (functional tfjs models over PyTorch-layout parameters)
// and the built-in conv net and GPT-2 of the paper's tasks.
export type { Arch, Batch, ModelDef } from './tasks/types.ts';
export { makeConvNet, convNetSpecs, type ConvNetConfig } from './tasks/models/convnet.ts';
export { makeGpt2, gpt2ParamCount, type Gpt2Config } from './tasks/models/gpt2.ts';

// tfjs models (LayersModel graphs, NiNo as a tf.train.Optimizer): re-exported from src/tfjs below.
export * from './tfjs/index.ts';
