/**
 * Cooperative stop on Ctrl-C / SIGTERM. The CLI calls `requestInterrupt(signal)` from its signal handler;
 * long loops call `await yieldPoint()` between steps, which lets the event loop run (so the handler
 * runs at all while work is on the main thread) and throws InterruptedError at that safe point.
 * Work in worker threads is stopped by the pool (workers.ts) through `onInterrupt`.
 *
 *   while (step < steps) { await yieldPoint(); ...one step... }
 */

export class InterruptedError extends Error {
  constructor(readonly signal: string) {
    super(`interrupted (${signal})`);
  }
}

let pending: string | null = null;
const listeners = new Set<(signal: string) => void>();

/** Marks the process as interrupted and tells the listeners (first call wins). */
export function requestInterrupt(signal: string): void {
  if (pending) return;
  pending = signal;
  for (const l of [...listeners]) l(signal);
}

/** the signal that interrupted this process, or null */
export function interruptedBy(): string | null {
  return pending;
}

export function throwIfInterrupted(): void {
  if (pending) throw new InterruptedError(pending);
}

/** Calls fn when an interrupt is requested (at once if one already was); returns the unsubscribe. */
export function onInterrupt(fn: (signal: string) => void): () => void {
  if (pending) fn(pending);
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** test seam: forget a requested interrupt */
export function resetInterrupt(): void {
  pending = null;
}

let lastYield = 0;
/** yield to the event loop at most this often (ms): cheap enough for per-step calls */
const YIELD_EVERY_MS = 50;

/** A safe point: yields to the event loop now and then, and throws InterruptedError when one was requested. */
export async function yieldPoint(): Promise<void> {
  const now = performance.now();
  if (now - lastYield >= YIELD_EVERY_MS) {
    await new Promise((r) => setImmediate(r));
    lastYield = performance.now();
  }
  throwIfInterrupted();
}
