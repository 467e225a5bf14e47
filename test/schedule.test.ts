import { describe, expect, it } from 'vitest';
import { horizonSchedule, nowcastSteps } from '../src/nowcast/schedule.ts';
import { refJson } from './helpers/reference.ts';

interface Entry {
  max_train_steps: number;
  period: number;
  p: number;
  seq_len: number;
  k_schedule: number[];
  nino_steps_step_idx_and_k: [number, number][];
}

describe('horizon schedule (official k_schedule.json)', () => {
  const entries = refJson<Entry[]>('k_schedule.json');
  it('has entries to check', () => expect(entries.length).toBeGreaterThan(2));
  for (const e of entries) {
    it(`max ${e.max_train_steps} period ${e.period}`, () => {
      const o = { maxTrainSteps: e.max_train_steps, period: e.period, p: e.p, maxHorizon: e.seq_len };
      expect(horizonSchedule(o)).toEqual(e.k_schedule);
      expect(nowcastSteps(o)).toEqual(e.nino_steps_step_idx_and_k);
    });
  }
});
