/**
 * Checkpoint formats: official .pt import (zip + restricted pickle) equals the official safetensors
 * bit for bit; nino's own safetensors format round-trips; bad inputs fail clearly.
 */
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, parseCheckpoint, saveCheckpoint, serializeCheckpoint } from '../src/model/checkpoint.ts';
import { configFromOfficialArgs, configToOfficialArgs, makeConfig } from '../src/model/config.ts';
import { listZip } from '../src/core/zip.ts';
import { readTorchCheckpoint, unpickle } from '../src/model/torch-pt.ts';
import { initHostWeights } from '../src/model/weights.ts';
import { refJson, refSt, refCheckpoint } from './helpers/reference.ts';

const CKPTS = ['nino_no_posw', 'nino_mlp', 'nino_mlp_h32'];

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

describe.each(CKPTS)('official %s', (name) => {
  it('.pt tensors equal the safetensors bit for bit; model_args and config agree', () => {
    const pt = loadCheckpoint(refCheckpoint(`${name}.pt`));
    const st = refSt(`checkpoints/${name}.safetensors`);
    const js = refJson(`checkpoints/${name}.json`);
    expect(pt.format).toBe('pt');
    expect(pt.order).toEqual(st.order);
    expect(pt.order).toEqual(js.state_dict.map((s: { name: string }) => s.name));
    for (const k of st.order) {
      expect(pt.weights[k].shape, k).toEqual(st.tensors[k].shape);
      expect(bitsEqual(pt.weights[k].data, st.tensors[k].data as Float32Array), k).toBe(true);
    }
    expect(pt.modelArgs).toEqual(js.model_args_raw);
    const sf = loadCheckpoint(refCheckpoint(`${name}.safetensors`));
    expect(sf.format).toBe('official-safetensors');
    expect(pt.config).toEqual(sf.config);
    expect(pt.config.hid).toBe(js.hyperparameters_resolved.hid);
    expect(pt.kind).toBe(js.hyperparameters_resolved.gnn ? 'gnn' : 'mlp');
  });

  it('nino format round-trips (weights, config, extra)', () => {
    const ck = loadCheckpoint(refCheckpoint(`${name}.pt`));
    const dir = mkdtempSync(join(tmpdir(), 'nino-ck-'));
    const p = join(dir, 'x.safetensors');
    saveCheckpoint(p, { ...ck, extra: { step: 123, note: 'x' } });
    const back = loadCheckpoint(p);
    expect(back.format).toBe('nino');
    expect(back.config).toEqual(ck.config);
    expect(back.extra).toEqual({ step: 123, note: 'x' });
    for (const k of Object.keys(ck.weights)) expect(bitsEqual(back.weights[k].data, ck.weights[k].data), k).toBe(true);
    expect(Object.keys(back.weights).sort()).toEqual(Object.keys(ck.weights).sort());
  });
});

describe('checkpoints written under the old names', () => {
  it("the shipped project checkpoints store the horizon as 'seqLen'; they load with maxHorizon and nothing else changed", () => {
    const root = join(__dirname, '..', 'checkpoints');
    for (const f of ['nino-project.safetensors', 'nino-project-mlp.safetensors']) {
      const buf = readFileSync(join(root, f));
      const n = Number(buf.readBigUInt64LE(0));
      const stored = JSON.parse(JSON.parse(buf.subarray(8, 8 + n).toString('utf8')).__metadata__.config);
      const ck = loadCheckpoint(join(root, f));
      expect(ck.config.maxHorizon).toBe(stored.seqLen ?? stored.maxHorizon);
      expect(ck.config.maxHorizon).toBe(40);
      expect('seqLen' in ck.config).toBe(false);
      const { seqLen: _s, maxHorizon: _m, ...rest } = stored;
      expect(ck.config).toMatchObject(rest);
    }
  });
});

describe('config mapping', () => {
  it('official args <-> config round trip; resolved hyper-parameters agree', () => {
    for (const name of CKPTS) {
      const js = refJson(`checkpoints/${name}.json`);
      const c = configFromOfficialArgs(js.model_args_raw);
      expect(configFromOfficialArgs(configToOfficialArgs(c))).toEqual(c);
      expect(c.maxHorizon).toBe(js.hyperparameters_resolved.seq_len);
      expect(c.maxFeat).toBe(js.hyperparameters_resolved.max_feat_size);
    }
    expect(configFromOfficialArgs({}).wtePosEnc).toBe(true); // official default (nino.pt)
  });
  it('rejects unsupported args', () => {
    expect(() => configFromOfficialArgs({ input_layer: 'mlp' })).toThrow(/input_layer/);
    expect(() => configFromOfficialArgs({ bogus: 1 })).toThrow(/unknown NiNo model arg 'bogus'/);
  });
  it('a fresh random model with wte_pos_enc saves and loads', () => {
    const cfg = makeConfig('gnn', { hid: 8, vocabSize: 10 });
    const w = initHostWeights(cfg, 3);
    expect(w['wte_pos_enc_layer.weight'].shape).toEqual([11, 8]);
    const back = parseCheckpoint(serializeCheckpoint({ config: cfg, weights: w }));
    expect(back.config).toEqual(cfg);
  });
});

describe('failure modes', () => {
  it('weights that do not match the config are rejected with names', () => {
    const ck = loadCheckpoint(refCheckpoint('nino_mlp_h32.pt'));
    const bad = { ...ck.weights };
    delete bad['edge_mlp.fc.2.bias'];
    expect(() => serializeCheckpoint({ config: ck.config, weights: bad })).toThrow(/missing edge_mlp\.fc\.2\.bias/);
    expect(() => serializeCheckpoint({ config: { ...ck.config, hid: 64 }, weights: ck.weights })).toThrow(
      /wrong shapes/,
    );
  });
  it('the pickle VM refuses globals and opcodes a checkpoint does not need', () => {
    const evil = new Uint8Array([0x80, 0x02, ...Buffer.from('cos\nsystem\n'), 0x2e]);
    expect(() =>
      unpickle(
        evil,
        () => null,
        () => null,
      ),
    ).toThrow(/refusing pickle global 'os.system'/);
    const inst = new Uint8Array([0x80, 0x02, 0x69, 0x2e]); // INST
    expect(() =>
      unpickle(
        inst,
        () => null,
        () => null,
      ),
    ).toThrow(/unsupported pickle opcode 0x69/);
  });
  it('non-zip and truncated inputs fail clearly', () => {
    expect(() => listZip(new Uint8Array(100))).toThrow(/not a zip/);
    const buf = readFileSync(refCheckpoint('nino_mlp_h32.pt'));
    expect(() => readTorchCheckpoint(new Uint8Array(buf.subarray(0, buf.length - 200)))).toThrow();
    const dir = mkdtempSync(join(tmpdir(), 'nino-ck-'));
    writeFileSync(join(dir, 'a.safetensors'), readFileSync(refCheckpoint('nino_mlp.safetensors')));
    expect(() => loadCheckpoint(join(dir, 'a.safetensors'))).toThrow(/without model_args/);
  });
});
