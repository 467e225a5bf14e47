/**
 * Exclusive locks on work items (a trajectory being collected, a bench run, a train-nino output folder),
 * across processes and across worker threads of one process. A lock is a file holding its owner
 * (pid, worker thread, hostname, start time, a random token), created atomically by hard-linking a
 * fully written tmp file to the lock name, so a reader never sees a half-written owner (on a file
 * system without hard links, an exclusive create: fsutil.createFileExclusive).
 *
 * A lock whose owner is a dead process on this host (`process.kill(pid, 0)` fails with ESRCH) is stale
 * and taken over; the take-over itself is serialised by a short-lived `<lock>.takeover` lock so two
 * processes can never both remove and re-create it. Locks of other hosts are never judged stale
 * (their pid means nothing here): the message names the owner so a person can decide.
 *
 *   const lock = await acquireLock('runs/traj/FM-16-3k/.seed-1.lock', { what: 'FM-16-3k/seed-1', onBusy: 'wait', logger });
 *   try { ... } finally { lock.release(); }
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { threadId } from 'node:worker_threads';
import { createFileExclusive, ensureDir } from './fsutil.ts';
import { throwIfInterrupted } from './interrupt.ts';
import type { Logger } from './logger.ts';

export interface LockOwner {
  pid: number;
  threadId: number;
  hostname: string;
  /** ISO time the lock was taken */
  started: string;
  token: string;
  /** what is locked, for messages */
  what: string;
}

export class LockBusyError extends Error {
  constructor(
    readonly path: string,
    readonly owner: LockOwner | null,
  ) {
    super(
      `${path} is locked by ${describeOwner(owner)}; wait for it to finish, or remove ${path} if that process is gone`,
    );
  }
}

export function describeOwner(o: LockOwner | null): string {
  if (!o) return 'an unknown process (unreadable lock file)';
  return `pid ${o.pid}${o.threadId ? ` (thread ${o.threadId})` : ''} on ${o.hostname} since ${o.started} (${o.what})`;
}

export interface Lock {
  readonly path: string;
  readonly owner: LockOwner;
  /** removes the lock if it is still ours (idempotent) */
  release(): void;
}

export interface AcquireOptions {
  /** shown in messages and stored in the lock file */
  what?: string;
  /** 'fail' (default): throw LockBusyError at once; 'wait': poll until the owner releases it */
  onBusy?: 'fail' | 'wait';
  /** poll interval while waiting (ms) */
  pollMs?: number;
  logger?: Logger;
}

function readOwner(path: string): LockOwner | null | undefined {
  let txt: string;
  try {
    txt = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const o = JSON.parse(txt) as LockOwner;
    return typeof o.pid === 'number' && typeof o.hostname === 'string' ? o : null;
  } catch {
    return null;
  }
}

/** true when the owner is certainly gone: a process of this host that no longer exists */
export function isStale(o: LockOwner): boolean {
  if (o.hostname !== hostname()) return false;
  if (o.pid === process.pid) return false; // our own process: a live thread holds it
  try {
    process.kill(o.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function tryCreate(path: string, owner: LockOwner): boolean {
  try {
    return createFileExclusive(path, JSON.stringify(owner));
  } catch (e) {
    throw new Error(`cannot create lock ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** a take-over lock older than this is itself abandoned (its owner died within the few ms it is held) */
const TAKEOVER_STALE_MS = 10_000;

/** Removes the lock at `path` if it still holds the stale owner `stale`; true when removed. */
function takeOver(path: string, stale: LockOwner, me: LockOwner): boolean {
  const guard = `${path}.takeover`;
  if (!tryCreate(guard, me)) {
    try {
      if (Date.now() - statSync(guard).mtimeMs > TAKEOVER_STALE_MS) rmSync(guard, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    const cur = readOwner(path);
    if (cur && cur.token === stale.token) {
      rmSync(path, { force: true });
      return true;
    }
    return cur === undefined;
  } finally {
    rmSync(guard, { force: true });
  }
}

/** Takes the lock or returns the live owner's record (null: unreadable). Never waits. */
export function tryAcquireLock(
  path: string,
  o: { what?: string; logger?: Logger } = {},
): Lock | { busy: LockOwner | null } {
  ensureDir(dirname(path));
  const me: LockOwner = {
    pid: process.pid,
    threadId,
    hostname: hostname(),
    started: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
    what: o.what ?? path,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, me)) {
      let released = false;
      return {
        path,
        owner: me,
        release() {
          if (released) return;
          released = true;
          if (readOwner(path)?.token === me.token) rmSync(path, { force: true });
        },
      };
    }
    const cur = readOwner(path);
    if (cur === undefined) continue; // released meanwhile: try again
    if (cur && isStale(cur)) {
      o.logger?.warn(
        { lock: path, owner: cur },
        `taking over the lock of a process that no longer runs (${describeOwner(cur)})`,
      );
      takeOver(path, cur, me);
      continue;
    }
    if (cur === null) {
      // a lock file being written cannot be seen (link is atomic); unreadable means damaged: treat as
      // stale only when it is old enough that no writer can still be at it
      try {
        if (Date.now() - statSync(path).mtimeMs > TAKEOVER_STALE_MS) {
          rmSync(path, { force: true });
          continue;
        }
      } catch {
        continue;
      }
    }
    return { busy: cur };
  }
  return { busy: readOwner(path) ?? null };
}

/** Takes the lock at `path`; when it is held, fails with LockBusyError or waits (onBusy). */
export async function acquireLock(path: string, o: AcquireOptions = {}): Promise<Lock> {
  let told = false;
  for (;;) {
    const r = tryAcquireLock(path, o);
    if (!('busy' in r)) return r;
    if (o.onBusy !== 'wait') throw new LockBusyError(path, r.busy);
    if (!told) {
      o.logger?.info(
        { lock: path, owner: r.busy },
        `${o.what ?? path} is being worked on by ${describeOwner(r.busy)}; waiting for it`,
      );
      told = true;
    }
    await new Promise((res) => setTimeout(res, o.pollMs ?? 250));
    throwIfInterrupted();
  }
}
