/**
 * What a task is made of. A task = model definition + dataset + training hyperparameters + target.
 * Models are pure functions of a list of parameter tensors (one per ParamSpec, PyTorch names, order and
 * shapes), so trajectories, neural graphs and official checkpoints line up with the PyTorch models.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LayersDesc } from '../core/layers.ts';
import type { ParamSpec } from '../core/params.ts';
import type { Rng } from '../core/rng.ts';

export type Arch = 'convnet' | 'gpt2' | 'llama' | 'mlp' | 'tfjs';

/** A batch: vision x [B,H,W,C] float32 NHWC, y [B] int32; language x [B,T] int32 tokens, y [B,T] int32 next tokens. */
export interface Batch {
  x: tf.Tensor;
  y: tf.Tensor;
}

export interface ModelDef {
  arch: Arch;
  /** Parameter names/shapes in PyTorch named_parameters() order. */
  specs: ParamSpec[];
  /** Architecture facts the graph builder needs (e.g. { numHeads: 4 } for transformers). */
  graphInfo: Record<string, number | string | boolean>;
  /** arch 'tfjs': the layers model, for its neural graph (graph arch 'tfjs') */
  layers?: LayersDesc;
  /** Deterministic initialisation (PyTorch-default-style distributions), one array per spec. */
  init(rng: Rng): Float32Array[];
  /** logits: vision [B, classes], language [B, T, vocab] */
  forward(params: tf.Tensor[], x: tf.Tensor): tf.Tensor;
  /** mean cross-entropy of the batch (scalar) */
  loss(params: tf.Tensor[], batch: Batch): tf.Scalar;
}
