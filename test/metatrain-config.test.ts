/** The meta-training settings table (metatrain/config.ts): defaults, validation and CLI flags all come from it. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRAIN_CONFIG,
  TRAIN_CONFIG_KEYS,
  trainConfigFlags,
  validateTrainConfig,
  type TrainConfig,
} from '../src/metatrain/index.ts';

describe('train config schema', () => {
  it('defaults in checkpoint order, and they validate', () => {
    expect(Object.keys(DEFAULT_TRAIN_CONFIG)).toEqual(TRAIN_CONFIG_KEYS);
    expect(TRAIN_CONFIG_KEYS.slice(0, 4)).toEqual(['model', 'hid', 'layers', 'ctx']);
    expect(DEFAULT_TRAIN_CONFIG).toMatchObject({
      model: 'nino',
      hid: 32,
      lr: 3e-3,
      minLr: 1e-6,
      stride: null,
      init: null,
      snapshotEvery: 25,
      wteRows: 1000,
    });
    expect(() => validateTrainConfig(DEFAULT_TRAIN_CONFIG)).not.toThrow();
  });

  it('validation names the setting, its rule and the value', () => {
    const bad = (over: Partial<Record<keyof TrainConfig, unknown>>) => () =>
      validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, ...over } as TrainConfig);
    expect(bad({ hid: 0 })).toThrow('hid must be a positive integer (got 0)');
    expect(bad({ ctx: 1 })).toThrow('ctx must be >= 2 (got 1)');
    expect(bad({ stride: 1.5 })).toThrow('stride must be a positive integer (got 1.5)');
    expect(bad({ minLr: 1 })).toThrow('minLr must be in [0, lr] (got 1)');
    expect(bad({ wd: -1 })).toThrow('wd must be a non-negative number (got -1)');
    expect(bad({ model: 'gpt' })).toThrow("model must be 'nino' or 'mlp' (got 'gpt')");
    expect(bad({ seed: -1 })).toThrow('seed must be an integer 0..4294967295 (got -1)');
    expect(() => validateTrainConfig({ ...DEFAULT_TRAIN_CONFIG, stride: 3, init: 'x.safetensors' })).not.toThrow();
  });

  it('one flag per setting but snapshotEvery, with its default in the help and its rule on parse', () => {
    const flags = new Map(trainConfigFlags().map((f) => [f.key, f]));
    expect(flags.has('snapshotEvery')).toBe(false);
    expect(flags.size).toBe(TRAIN_CONFIG_KEYS.length - 1);
    expect(flags.get('maxHorizon')!.flags).toBe('--max-horizon <n>');
    expect(flags.get('hid')!.description).toBe('hidden size (default 32; official 128)');
    expect(flags.get('lr')!.description).toBe('peak AdamW learning rate, cosine decay (default 0.003)');
    expect(flags.get('stride')!.description).not.toMatch(/default null/);
    expect(flags.get('batch')!.parse('8')).toBe(8);
    expect(() => flags.get('batch')!.parse('0')).toThrow("--batch must be a positive integer (got '0')");
    expect(() => flags.get('seed')!.parse('1.5')).toThrow("--seed must be an integer 0..4294967295 (got '1.5')");
    expect(() => flags.get('model')!.parse('gnn')).toThrow("--model must be 'nino' or 'mlp' (got 'gnn')");
    expect(flags.get('init')!.parse('official:nino')).toBe('official:nino');
  });
});
