/**
 * The exit-code contract of errors: an `InputError` (or any error carrying `exitCode: 2`) means the input
 * was wrong (an option, a name, a file the user gave: exit 2); anything else is a runtime failure (exit 1).
 * Library code throws these; only src/cli turns them into an exit status. The code survives a worker
 * thread (workers.ts forwards it with the message).
 *
 *   throw new InputError(`unknown task 'FM-99'; known tasks: ...`);   exitCodeOf(e) === 2
 */
export const EXIT = { ok: 0, failure: 1, input: 2, speedupGate: 3, sigint: 130, sigterm: 143 } as const;

export class InputError extends Error {
  readonly exitCode = EXIT.input;
}

/** 2 for input errors (an `exitCode` of 2 on the error), 1 for everything else. */
export function exitCodeOf(e: unknown): number {
  return (e as { exitCode?: unknown } | null)?.exitCode === EXIT.input ? EXIT.input : EXIT.failure;
}
