/**
 * core/lock.ts and core/fsutil.ts: one owner per lock (also against a live process of this host),
 * take-over of a dead process's lock, unique tmp names per call and thread, a failed atomic write
 * leaving no tmp file, ensureDir on impossible paths, and orphan tmp clean-up.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDir, removeOrphanTmp, tmpNameFor, writeFileAtomic } from '../src/core/fsutil.ts';
import { acquireLock, LockBusyError, tryAcquireLock, type LockOwner } from '../src/core/lock.ts';

const owner = (pid: number, host = hostname()): LockOwner => ({
  pid,
  threadId: 0,
  hostname: host,
  started: '2026-01-01T00:00:00.000Z',
  token: 'abc',
  what: 'test',
});

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('locks', () => {
  it('one owner at a time; a released lock can be taken again', async () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-lock-'));
    const p = join(d, 'sub', 'x.lock');
    const a = await acquireLock(p, { what: 'first' });
    const held = JSON.parse(readFileSync(p, 'utf8')) as LockOwner;
    expect(held).toMatchObject({ pid: process.pid, hostname: hostname(), what: 'first' });
    expect(Date.parse(held.started)).toBeGreaterThan(0);
    const b = tryAcquireLock(p);
    expect('busy' in b && b.busy?.token).toBe(held.token);
    await expect(acquireLock(p, { what: 'second' })).rejects.toThrow(LockBusyError);
    a.release();
    expect(existsSync(p)).toBe(false);
    const c = await acquireLock(p);
    c.release();
  });

  it('a lock held by a live process of this host is busy and the message names it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-lock-'));
    const p = join(d, 'x.lock');
    writeFileSync(p, JSON.stringify(owner(process.ppid)));
    await expect(acquireLock(p)).rejects.toThrow(
      new RegExp(`locked by pid ${process.ppid} on ${hostname()} since 2026-01-01`),
    );
  });

  it('a lock of a dead process is taken over; one of another host is not', async () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-lock-'));
    const p = join(d, 'x.lock');
    writeFileSync(p, JSON.stringify(owner(deadPid())));
    const l = await acquireLock(p);
    expect((JSON.parse(readFileSync(p, 'utf8')) as LockOwner).pid).toBe(process.pid);
    l.release();
    writeFileSync(p, JSON.stringify(owner(deadPid(), 'some-other-host')));
    await expect(acquireLock(p)).rejects.toThrow(/on some-other-host/);
  });

  it('a waiting acquirer gets the lock once its owner releases it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-lock-'));
    const p = join(d, 'x.lock');
    const a = await acquireLock(p);
    setTimeout(() => a.release(), 300);
    const t0 = Date.now();
    const b = await acquireLock(p, { onBusy: 'wait', pollMs: 20 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    b.release();
  });
});

describe('file helpers', () => {
  it('tmp names differ between calls (pid + thread + random), not just between processes', () => {
    const a = tmpNameFor('/x/f');
    const b = tmpNameFor('/x/f');
    expect(a).not.toBe(b);
    expect(a).toMatch(new RegExp(`^/x/f\\.${process.pid}\\.\\d+\\.[0-9a-f]{8}\\.tmp$`));
  });

  it('a failed atomic write removes its tmp file and names the file', () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-atomic-'));
    const target = join(d, 'out.bin');
    // the rename fails: the final name is a non-empty folder
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    expect(() => writeFileAtomic(target, 'data')).toThrow(/cannot write .*out\.bin/);
    expect(readdirSync(d)).toEqual(['out.bin']);
  });

  it.skipIf(process.getuid?.() === 0)(
    'a write into a read-only folder fails naming the file and leaves nothing',
    () => {
      const d = mkdtempSync(join(tmpdir(), 'nino-atomic-'));
      const ro = join(d, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      expect(() => writeFileAtomic(join(ro, 'f'), 'data')).toThrow(/cannot write .*ro\/f: EACCES/);
      expect(readdirSync(ro)).toEqual([]);
      chmodSync(ro, 0o700);
    },
  );

  it('ensureDir fails at once on impossible paths and files in the way', () => {
    expect(() => ensureDir('/proc/nope/deeper')).toThrow(
      /cannot create folder '\/proc\/nope\/deeper': mkdir \/proc\/nope failed \(ENOENT\)/,
    );
    const d = mkdtempSync(join(tmpdir(), 'nino-ensure-'));
    writeFileSync(join(d, 'file'), 'x');
    expect(() => ensureDir(join(d, 'file', 'sub'))).toThrow(/file exists and is not a folder/);
    ensureDir(join(d, 'a', 'b', 'c'));
    expect(existsSync(join(d, 'a', 'b', 'c'))).toBe(true);
  });

  it('removeOrphanTmp removes the tmp files of a prefix only', () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-orphan-'));
    for (const f of [
      'ckpt.safetensors',
      'ckpt.safetensors.123.tmp',
      'ckpt-adamw-4.safetensors.123.1.deadbeef.tmp',
      'other.json.9.tmp',
      'ckpt-notes.tmp',
    ])
      writeFileSync(join(d, f), 'x');
    expect(removeOrphanTmp(d, 'ckpt').sort()).toEqual([
      'ckpt-adamw-4.safetensors.123.1.deadbeef.tmp',
      'ckpt.safetensors.123.tmp',
    ]);
    expect(readdirSync(d).sort()).toEqual(['ckpt-notes.tmp', 'ckpt.safetensors', 'other.json.9.tmp']);
  });
});
