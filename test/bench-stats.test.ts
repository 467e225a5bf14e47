import { describe, expect, it } from 'vitest';
import { mean, pairedSpeedup, std, stepsToTarget, t975 } from '../src/bench/stats.ts';

describe('bench statistics', () => {
  it('mean and sample std by hand', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    // deviations -1.5,-.5,.5,1.5 -> squares 2.25+.25+.25+2.25 = 5 -> /3 -> sqrt(5/3)
    expect(std([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('paired speedup: geometric mean and t-interval on log speedups', () => {
    // speedups 2 and 8 -> logs ln2, ln8 = ln2, 3ln2 ; mean 2ln2 -> geo mean 4
    // std of logs = sqrt(((ln2)^2 + (ln2)^2)/1) = ln2*sqrt(2); half = 12.706 * ln2*sqrt2 / sqrt2 = 12.706 ln2
    const s = pairedSpeedup([200, 800], [100, 100]);
    expect(s.geoMean).toBeCloseTo(4, 10);
    expect(s.lo).toBeCloseTo(4 / 2 ** 12.706, 8);
    expect(s.hi).toBeCloseTo(4 * 2 ** 12.706, 0);
    expect(s.perSeed).toEqual([2, 8]);
  });

  it('the CI numbers of the official code give an interval above 1', () => {
    const s = pairedSpeedup([2375, 2250], [1025, 1000]);
    expect(s.geoMean).toBeGreaterThan(2.2);
    expect(s.lo).toBeGreaterThan(1);
  });

  it('a single pair has no interval', () => {
    const s = pairedSpeedup([300], [100]);
    expect(s.geoMean).toBeCloseTo(3, 12);
    expect(Number.isNaN(s.lo)).toBe(true);
  });

  it('steps to target: first evaluated step at or past the target, null when censored', () => {
    const curve: [number, number][] = [
      [0, 10],
      [25, 80],
      [50, 85],
      [75, 84],
      [100, 86],
    ];
    expect(stepsToTarget(curve, 85, true)).toBe(50);
    expect(stepsToTarget(curve, 90, true)).toBeNull();
    expect(
      stepsToTarget(
        [
          [0, 300],
          [50, 20],
          [100, 9],
        ],
        10,
        false,
      ),
    ).toBe(100);
  });

  it('t quantiles', () => {
    expect(t975(1)).toBe(12.706);
    expect(t975(10)).toBe(2.228);
    expect(Math.abs(t975(60) - 2.0003)).toBeLessThan(0.01);
  });
});
