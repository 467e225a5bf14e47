/**
 * Regenerates test/fixtures/reference and checkpoints/official from the golden data made by running the
 * official PyTorch NiNo (SamsungSAILMontreal/nino, commit 84fb0cf), trimmed to what the tests read:
 * the GNN/MLP intermediates keep only the activations the parity tests compare, and the tensors no test
 * reads (UNREAD) are left out of the other files.
 *
 *   npx tsx scripts/make-fixtures.ts [path/to/shared/reference]     (default ../shared/reference)
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors, type StTensor } from '../src/core/safetensors.ts';
import { GNN_TRACE, MLP_TRACE } from '../test/helpers/reference.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = resolve(process.argv[2] ?? join(root, '..', 'shared', 'reference'));
const fix = join(root, 'test', 'fixtures', 'reference');
const off = join(root, 'checkpoints', 'official');

function trim(rel: string, keep: readonly string[]): void {
  const st = readSafetensors(readFileSync(join(src, rel)), rel);
  const out: Record<string, StTensor> = {};
  for (const k of keep) {
    const t = st.tensors[k];
    if (!t) throw new Error(`${rel}: no tensor '${k}'`);
    out[k] = t;
  }
  writeFileSync(join(fix, rel), writeSafetensors(out, Object.keys(st.metadata).length ? st.metadata : undefined));
}

/** Tensors no test reads (found by recording every key the tests take from these files), dropped from the copies. */
const PRED = ['pred_k1', 'pred_k10', 'pred_k40', 'pred_scaled_k1', 'pred_scaled_k10', 'pred_scaled_k40'];
const UNREAD: Record<string, string[]> = {
  'case_a_fm16/graph.safetensors': ['lpe_eigvals_f32', 'lpe_sign'],
  'case_b_gpt2/graph.safetensors': ['lpe_eigvals_f32', 'lpe_sign'],
  'case_a_fm16/inputs.safetensors': ['delta', 'noise'],
  'case_b_gpt2/inputs.safetensors': ['s0', 'delta', 'noise'],
  'case_a_fm16/outputs_nino_mlp.safetensors': ['pred_k10', 'pred_scaled_k1', 'pred_scaled_k10', 'pred_scaled_k40'],
  'case_b_gpt2/outputs_nino_mlp.safetensors': PRED,
  'case_a_fm16/outputs_nino_mlp_h32.safetensors': PRED,
  'case_b_gpt2/outputs_nino_mlp_h32.safetensors': PRED,
};

for (const c of ['case_a_fm16', 'case_b_gpt2']) {
  mkdirSync(join(fix, c), { recursive: true });
  copyFileSync(join(src, c, 'meta.json'), join(fix, c, 'meta.json'));
  for (const f of [
    'graph.safetensors',
    'inputs.safetensors',
    'outputs_nino_no_posw.safetensors',
    'outputs_nino_mlp.safetensors',
    'outputs_nino_mlp_h32.safetensors',
  ]) {
    const rel = `${c}/${f}`;
    const drop = new Set(UNREAD[rel] ?? []);
    trim(
      rel,
      readSafetensors(readFileSync(join(src, rel)), rel).order.filter((k) => !drop.has(k)),
    );
  }
  trim(`${c}/intermediates_nino_no_posw_k1.safetensors`, GNN_TRACE);
}
trim('case_b_gpt2/intermediates_nino_mlp_k1.safetensors', MLP_TRACE);
copyFileSync(join(src, 'k_schedule.json'), join(fix, 'k_schedule.json'));
copyFileSync(join(src, 'README.md'), join(fix, 'REFERENCE.md'));
mkdirSync(join(fix, 'checkpoints'), { recursive: true });
mkdirSync(off, { recursive: true });
for (const n of ['nino_no_posw', 'nino_mlp', 'nino_mlp_h32']) {
  copyFileSync(join(src, 'checkpoints', `${n}.pt`), join(fix, 'checkpoints', `${n}.pt`));
  copyFileSync(join(src, 'checkpoints', `${n}.safetensors`), join(off, `${n}.safetensors`));
  copyFileSync(join(src, 'checkpoints', `${n}.json`), join(off, `${n}.json`));
}
console.log(`fixtures written to ${fix}, official checkpoints to ${off}`);
