/**
 * Neural-graph registry and public API of src/graph.
 *
 *   registerGraphBuilder('myarch', (specs, opts) => ...);
 *   const g = buildNeuralGraph('gpt2', specs, { numHeads: 12, logger });
 *   const attr = toEdges(g, scaled, 5); const vec = toVector(g, edgeOut);
 * Built-in archs: 'mlp' | 'cnn' | 'conv' (sequential NeuralGraph), 'gpt2' (NeuralGraphGPT), 'llama',
 * 'tfjs' (a tfjs layers model described in opts.layers; graph/layers.ts).
 * Unknown arch → the sequential builder, with a warning through opts.logger.
 */
import type { ParamSpec } from '../core/params.ts';
import { buildGpt2Graph } from './gpt2.ts';
import { buildLlamaGraph } from './llama.ts';
import { buildLayersGraph } from './layers.ts';
import { buildSequentialGraph } from './sequential.ts';
import type { GraphBuilder, GraphBuildOptions, NeuralGraph } from './types.ts';

export * from './types.ts';
export { toEdges, toVector, lastState } from './edges.ts';
export { buildSequentialGraph } from './sequential.ts';
export { buildGpt2Graph } from './gpt2.ts';
export { buildLlamaGraph, llamaSpecs, type LlamaConfig } from './llama.ts';
export {
  laplacianPE,
  normalizedLaplacian,
  smallestEigenpairs,
  laplacianMatvec,
  denseLaplacian,
  type LpeOptions,
  type LpeResult,
  type SymLaplacian,
} from './lpe.ts';
export { symEig } from './symeig.ts';
export { buildLayersGraph, SUPPORTED_LAYERS, type LayersGraph, type LayerParam } from './layers.ts';
export { GraphAssembler, type DenseArgs, type ParamMap } from './assemble.ts';

const registry = new Map<string, GraphBuilder>();

export function registerGraphBuilder(arch: string, builder: GraphBuilder): void {
  registry.set(arch, builder);
}

export function graphBuilderNames(): string[] {
  return [...registry.keys()];
}

export function buildNeuralGraph(arch: string, specs: readonly ParamSpec[], opts: GraphBuildOptions = {}): NeuralGraph {
  const b = registry.get(arch);
  if (b) return b(specs, opts);
  opts.logger?.warn(
    { arch, known: graphBuilderNames() },
    `no graph builder for arch '${arch}'; using the generic sequential (MLP/CNN) builder`,
  );
  return buildSequentialGraph(specs, opts, arch);
}

registerGraphBuilder('mlp', (s, o) => buildSequentialGraph(s, o, 'mlp'));
registerGraphBuilder('cnn', (s, o) => buildSequentialGraph(s, o, 'cnn'));
registerGraphBuilder('conv', (s, o) => buildSequentialGraph(s, o, 'conv'));
registerGraphBuilder('gpt2', buildGpt2Graph);
registerGraphBuilder('llama', buildLlamaGraph);
registerGraphBuilder('tfjs', (specs, o) => {
  if (!o.layers) throw new Error("a 'tfjs' graph needs the model's layer description (opts.layers)");
  const lg = buildLayersGraph(o.layers, { maxFeat: o.maxFeat });
  if (lg.specs.length !== specs.length || lg.specs.some((s, i) => s.shape.join(',') !== specs[i].shape.join(',')))
    throw new Error(
      `the parameters [${specs.map((s) => `[${s.shape}]`).join(', ')}] do not match the tfjs model's [${lg.specs.map((s) => `[${s.shape}]`).join(', ')}]`,
    );
  return lg.graph;
});
