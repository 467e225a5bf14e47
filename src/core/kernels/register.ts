/**
 * Registers nino's own tfjs kernels for the wasm backend (kernels tfjs does not ship, or ships slow).
 * Each kernel lives in its own file beside this one and is tested against the cpu backend.
 */
export function registerNinoWasmKernels(): void {
  // filled in by the kernels (Conv2DBackpropFilter, UnsortedSegmentSum, ...)
}
