/**
 * A tfjs layers model (tf.LayersModel, or a saved model.json) as plain JSON data: its layers in
 * topological order, each with its class, the config fields that matter, its input tensors, output
 * shape and weights (tfjs shapes). The neural-graph builder (graph/layers.ts) reads it, whether it came
 * from a live model (tfjs/graph.ts: modelGraph) or from a task file's model.json (tasks/models/tfjs-resolve.ts),
 * so both give the same graph; a task stores it in its resolved definition, so train-nino can rebuild
 * the graph from a trajectory alone.
 *
 *   const d: LayersDesc = { name: 'm', inputs: [{ id: 'in', shape: [null, 4] }], layers: [...], outputs: ['dense_1'] };
 */

export interface LayerWeightDesc {
  /** unique name (a spec's name in the flat vector) */
  name: string;
  /** the name as saved ('dense_1/kernel'); its last segment says what it is (kernel, bias, gamma ...) */
  originalName: string;
  /** tfjs shape */
  shape: number[];
  trainable: boolean;
}

export interface LayerDesc {
  name: string;
  /** tfjs class name (getClassName(): 'Dense', 'Conv2D' ...) */
  className: string;
  /** tfjs (camelCase) config fields: units, filters, kernelSize, strides, padding, activation ... */
  config: Record<string, unknown>;
  /** input tensor ids, each with the name of the layer (or model input) that produced it */
  inputs: { id: string; from: string }[];
  /** output tensors (id and shape with the batch dimension as null) */
  outputs: { id: string; shape: (number | null)[] }[];
  /** how many times the layer is applied (a shared layer: > 1) */
  applications: number;
  weights: LayerWeightDesc[];
}

export interface LayersDesc {
  name: string;
  /** model inputs: tensor id and shape (batch dimension null) */
  inputs: { id: string; shape: (number | null)[] }[];
  layers: LayerDesc[];
  /** tensor ids of the model outputs */
  outputs: string[];
}

/** The last segment of a weight's saved name: 'dense_1/kernel' -> 'kernel'. */
export function weightKind(w: Pick<LayerWeightDesc, 'originalName'>): string {
  return w.originalName.replace(/^.*\//, '');
}
