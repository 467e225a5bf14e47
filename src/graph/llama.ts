/** Llama builder (placeholder, replaced below). */
import type { ParamSpec } from '../core/params.ts';
import type { GraphBuildOptions, NeuralGraph } from './types.ts';
export function buildLlamaGraph(_specs: readonly ParamSpec[], _opts: GraphBuildOptions = {}): NeuralGraph {
  throw new Error('llama graph: not implemented');
}
