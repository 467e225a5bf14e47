/**
 * Exclusive file creation (locks, shard layouts) on a file system without hard links, such as a FUSE
 * mount of an object store: linkSync fails with EPERM there, and createFileExclusive falls back to an
 * exclusive create, so locks and `.shards.json` still keep two writers apart.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:fs', async (orig) => {
  const fs = await orig<typeof import('node:fs')>();
  const linkSync = () => {
    throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
  };
  return { ...fs, default: { ...fs, linkSync }, linkSync };
});

const { createFileExclusive } = await import('../src/core/fsutil.ts');
const { tryAcquireLock } = await import('../src/core/lock.ts');
const { checkShardLayout } = await import('../src/core/shard.ts');

describe('no hard links', () => {
  it('createFileExclusive creates once, then reports that the file exists, and leaves no tmp file', () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-nolink-'));
    expect(createFileExclusive(join(d, 'a'), 'one')).toBe(true);
    expect(createFileExclusive(join(d, 'a'), 'two')).toBe(false);
    expect(readFileSync(join(d, 'a'), 'utf8')).toBe('one');
    expect(readdirSync(d)).toEqual(['a']);
  });

  it('a lock is still exclusive, and a shard layout is still checked', () => {
    const d = mkdtempSync(join(tmpdir(), 'nino-nolink-'));
    const a = tryAcquireLock(join(d, 'x.lock'), { what: 'a' });
    expect('busy' in a).toBe(false);
    const b = tryAcquireLock(join(d, 'x.lock'), { what: 'b' });
    expect('busy' in b && b.busy?.what).toBe('a');
    if (!('busy' in a)) a.release();
    expect('busy' in tryAcquireLock(join(d, 'x.lock'))).toBe(false);
    checkShardLayout(d, { index: 0, count: 2, source: 't' }, 'collect', [['T', 1]]);
    expect(() => checkShardLayout(d, { index: 0, count: 3, source: 't' }, 'collect', [['T', 1]])).toThrow(
      /split into 2 shards/,
    );
  });
});
