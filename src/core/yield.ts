/**
 * Lets the event loop run inside long synchronous work on the main thread (a job run with --workers 1):
 * progress-bar redraws, log flushes and signal handlers are timers and callbacks that would otherwise
 * wait until the whole job ends. Cheap: it yields at most every `everyMs` milliseconds.
 *
 *   for (...) { step(); await yieldToEventLoop(); }
 */
let last = performance.now();

export async function yieldToEventLoop(everyMs = 100): Promise<void> {
  if (performance.now() - last < everyMs) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  last = performance.now();
}
