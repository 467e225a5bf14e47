/**
 * The exit codes the README documents, on the real CLI: 2 for usage and input errors (unknown task, bad
 * range, corrupt input files), the message naming the file involved.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeOf, InputError } from '../src/core/errors.ts';
import { JobError } from '../src/core/workers.ts';
import { getTask } from '../src/tasks/registry.ts';

const BIN = fileURLToPath(new URL('../bin/nino', import.meta.url));
const nino = (args: string[]) =>
  spawnSync(BIN, ['--no-progress', ...args], { encoding: 'utf8', env: { ...process.env, NINO_OFFLINE: '1' } });
const tmp = () => mkdtempSync(join(tmpdir(), 'nino-exit-'));

describe('exit codes', () => {
  it('input errors carry code 2 (also across a worker thread), everything else 1', () => {
    expect(exitCodeOf(new InputError('x'))).toBe(EXIT.input);
    expect(exitCodeOf(new Error('x'))).toBe(EXIT.failure);
    expect(exitCodeOf(new JobError('x', 2))).toBe(2);
    expect(exitCodeOf(new JobError('x'))).toBe(1);
    expect(() => getTask('NOPE')).toThrow(InputError);
  });

  it('unknown task: 2, like a bad seed range (collect and bench)', () => {
    for (const cmd of [
      ['collect', '--task', 'NOPE'],
      ['bench', '--task', 'NOPE'],
    ]) {
      const r = nino(cmd);
      expect(r.status, cmd.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^nino: error: unknown task 'NOPE'; known tasks: FM-16/m);
    }
    expect(nino(['collect', '--task', 'FM-16-3k', '--seeds', '5..1']).status).toBe(2);
  });

  it('an error is one line; its stack follows only at --log-level debug', () => {
    const plain = nino(['tasks', '--bogus']);
    expect(plain.status).toBe(2);
    const r = nino(['collect', '--task', 'NOPE']);
    expect(r.stderr.split('\n').filter((l) => l.includes('NOPE'))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const debug = nino(['--log-level', 'debug', 'collect', '--task', 'NOPE']);
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(/^Error: unknown task 'NOPE'[^\n]*\n\s+at getTask /m);
  });

  it('a corrupt stored run under --report-only: 2, naming the file', () => {
    const out = tmp();
    const f = join(out, 'runs', 'FM-16-3k', 'adam', 'seed-1.json');
    mkdirSync(join(f, '..'), { recursive: true });
    writeFileSync(f, '{"curve": [[0, 1]');
    const r = nino([
      'bench',
      '--task',
      'FM-16-3k',
      '--seeds',
      '1',
      '--nowcaster',
      'linefit',
      '--report-only',
      '--out',
      out,
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`nino: error: ${f}: corrupt stored run (`);
  });

  it('a corrupt trajectory is an input error (2) in train-nino as in collect', () => {
    const d = tmp();
    mkdirSync(join(d, 'traj', 'FM-16-3k'), { recursive: true });
    const f = join(d, 'traj', 'FM-16-3k', 'seed-1.arrow');
    writeFileSync(f, 'not arrow');
    const r = nino(['train-nino', '--data', join(d, 'traj'), '--steps', '2', '--out', join(d, 'nino')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(f);
    const c = nino([
      'collect',
      '--task',
      'FM-16-3k',
      '--seeds',
      '1',
      '--steps',
      '4',
      '--every',
      '2',
      '--workers',
      '1',
      '--out',
      join(d, 'traj'),
    ]);
    expect(c.status).toBe(2);
    expect(c.stderr).toContain(f);
  });
});
