/** A failed write (disk full) names the file it was writing: fs's own ENOSPC message does not. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from '../src/core/fsutil.ts';

const disk = vi.hoisted(() => ({ full: false }));
vi.mock('node:fs', async (orig) => {
  const fs = await orig<typeof import('node:fs')>();
  const writeSync = ((...a: Parameters<typeof fs.writeSync>) => {
    if (disk.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (fs.writeSync as (...x: unknown[]) => number)(...a);
  }) as typeof fs.writeSync;
  return { ...fs, default: { ...fs, writeSync }, writeSync };
});

describe('writeFileAtomic on a full disk', () => {
  it('the error names the file and keeps the code', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nino-full-')), 'summary.json');
    disk.full = true;
    try {
      expect(() => writeFileAtomic(path, '{}')).toThrow(`cannot write ${path}: ENOSPC: no space left on device, write`);
      try {
        writeFileAtomic(path, '{}');
      } catch (e) {
        expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
    } finally {
      disk.full = false;
    }
    writeFileAtomic(path, '{}');
  });
});
