/** LPE placeholder. */
import type { NeuralGraph } from './types.ts';
export interface LpeOptions { k?: number }
export interface LpeResult { pos: Float32Array }
export function normalizedLaplacian(_g: NeuralGraph): unknown { throw new Error('todo'); }
export function laplacianPE(_g: NeuralGraph, _o: LpeOptions = {}): LpeResult { throw new Error('todo'); }
