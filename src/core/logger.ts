/**
 * The logging seam: library code takes a `Logger` (pino's method shape) and never prints.
 * Only src/cli/ creates a real pino logger; tests and library callers can pass `silentLogger`.
 */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

const noop = () => {};
export const silentLogger: Logger = { info: noop, warn: noop, error: noop, debug: noop };

/** Progress callback used by long-running library functions (the CLI turns it into a bar). */
export type ProgressFn = (p: {
  id: string;
  done: number;
  total: number;
  info?: Record<string, number | string>;
}) => void;
