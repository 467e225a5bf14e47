/**
 * nino's public API for tfjs users: NiNo around any tf.LayersModel.
 *
 *   import { initBackend, NiNoOptimizer } from 'nino';
 *   await initBackend('wasm');                       // tfjs wasm + nino's kernels (conv-net training)
 *   model.compile({ optimizer: new NiNoOptimizer({ baseOpt: tf.train.adam(6e-3), model, period: 1000 }), loss });
 *
 * NiNoOptimizer (a tf.Optimizer), NiNoCallback (model.fit callback around the user's own optimizer),
 * modelGraph (the neural graph of a model, PyTorch-layout flat parameter vector). The package entry
 * (src/index.ts) re-exports all of it next to the backend set-up and the schedule.
 */
export { NiNoOptimizer, type NiNoOptimizerOptions } from './optimizer.ts';
export { NiNoCallback } from './callback.ts';
export { type TfjsNiNoOptions } from './setup.ts';
export { modelGraph, SUPPORTED_LAYERS, type ModelGraph, type ModelGraphOptions, type ParamBinding } from './graph.ts';
