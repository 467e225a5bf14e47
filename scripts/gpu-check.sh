#!/usr/bin/env bash
# The WebGPU verification for a GPU machine, in one go and under 8 minutes; installs nothing from the
# network (everything it needs is carried, see scripts/gpu-pack.sh). It prints:
#   1. the machine: node, GPU (nvidia-smi), Vulkan loader and driver manifests, what probeWebgpu() says
#   2. the kernels comparison on webgpu against cpu (test/kernels.test.ts with NINO_REQUIRE_WEBGPU=1,
#      so a missing adapter fails instead of skipping)
#   3. scripts/gpu-check.ts on webgpu, then on wasm: median ms per FM-16 AdamW step (batch 128), per
#      LM1B-3-24 step (context 1024, batch 32), one LM1B-3-24-size nowcast, tfjs's GPU bytes
#   4. peak GPU memory used (nvidia-smi sampled every 0.5 s) and a summary table
# Logs go to $OUT (the device tool brings them back) or /tmp/nino-gpu-check.
#
#   bash scripts/gpu-pack.sh                 # here, once: .gpu/ (pruned node_modules, node if asked)
#   bash scripts/gpu-check.sh                # there, from the repository root (carry .gpu and .gl)
set -u
cd "$(dirname "$0")/.."
LOGDIR=${OUT:-/tmp/nino-gpu-check}
mkdir -p "$LOGDIR"
T0=$(date +%s)
say() { printf '\n== %s (t=%ss)\n' "$*" "$(($(date +%s) - T0))"; }

# ---- carried things: Vulkan loader debs (.gl), node and node_modules (.gpu)
if compgen -G '.gl/*.deb' >/dev/null; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
if ! command -v node >/dev/null && [ -f .gpu/node.tar.xz ]; then
  mkdir -p /tmp/nino-node && tar -xJf .gpu/node.tar.xz -C /tmp/nino-node && export PATH=/tmp/nino-node/bin:$PATH
fi
if [ ! -d node_modules ] && [ -f .gpu/node_modules.tar.xz ]; then tar -xJf .gpu/node_modules.tar.xz; fi
# NVIDIA's Vulkan driver manifest: the image may lack it while the driver mount has it
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES=$f; break; fi
  done
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && ldconfig -p | grep -q 'libGLX_nvidia.so.0'; then
  printf '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3"}}\n' >/tmp/nino_nvidia_icd.json
  export VK_DRIVER_FILES=/tmp/nino_nvidia_icd.json
fi
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json

say machine
command -v node >/dev/null || { echo "node not found: carry it (bash scripts/gpu-pack.sh --with-node)"; exit 1; }
[ -d node_modules ] || { echo "node_modules missing: carry .gpu (bash scripts/gpu-pack.sh)"; exit 1; }
echo "node $(node -v); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 | head -3
echo "vulkan loader: $(ldconfig -p | grep -o 'libvulkan.so.1 .*' | head -1)"
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null
timeout 60 node_modules/.bin/tsx -e "import('./src/core/backend.ts').then(async (b) => console.log('probeWebgpu:', JSON.stringify(await b.probeWebgpu())))" 2>&1 | tail -5

SAMPLER=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$LOGDIR/gpu-mem.csv" 2>/dev/null &
  SAMPLER=$!
fi

say "kernels on webgpu vs cpu (test/kernels.test.ts, NINO_REQUIRE_WEBGPU=1)"
NINO_REQUIRE_WEBGPU=1 timeout 100 node_modules/.bin/vitest run test/kernels.test.ts --reporter=verbose 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >"$LOGDIR/kernels.log"
echo "exit ${PIPESTATUS[0]}"
echo "webgpu tests: $(grep -c '✓.*webgpu' "$LOGDIR/kernels.log") passed, $(grep -c '×.*webgpu' "$LOGDIR/kernels.log") failed, $(grep -c '↓.*webgpu' "$LOGDIR/kernels.log") skipped"
grep -E '×|FAIL|Error' "$LOGDIR/kernels.log" | head -30
tail -2 "$LOGDIR/kernels.log"

say "timings on webgpu (scripts/gpu-check.ts)"
timeout 150 node_modules/.bin/tsx scripts/gpu-check.ts --backend webgpu >"$LOGDIR/webgpu.jsonl" 2>"$LOGDIR/webgpu.stderr"
echo "exit $?"; cat "$LOGDIR/webgpu.jsonl"; tail -5 "$LOGDIR/webgpu.stderr"

say "timings on wasm (scripts/gpu-check.ts)"
timeout 170 node_modules/.bin/tsx scripts/gpu-check.ts --backend wasm --phases fm16,nowcast,lm1b --lm1b-steps 1 --lm1b-warmup 0 >"$LOGDIR/wasm.jsonl" 2>"$LOGDIR/wasm.stderr"
echo "exit $?"; cat "$LOGDIR/wasm.jsonl"; tail -5 "$LOGDIR/wasm.stderr"

[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
say summary
node -e '
const fs = require("fs");
const read = (b) => { try { return fs.readFileSync(process.argv[1] + "/" + b + ".jsonl", "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)); } catch { return []; } };
const w = read("webgpu"), c = read("wasm");
const val = (rows, p) => { const r = rows.find((x) => x.phase === p); const b = rows.find((x) => x.phase === "backend"); if (!r) return b && b.ok === false ? "no backend" : "not run (timeout?)"; if (!r.ok) return "failed: " + r.error.slice(0, 90); return p === "nowcast" ? r.seconds + " s" : r.medianMs + " ms/step"; };
for (const [p, what] of [["fm16", "FM-16 AdamW step, batch 128"], ["lm1b", "LM1B-3-24 step, ctx 1024, batch 32"], ["nowcast", "LM1B-3-24-size nowcast"]])
  console.log(what.padEnd(36), "| webgpu", val(w, p).padEnd(24), "| wasm", val(c, p));
const gpu = w.filter((x) => x.memory && x.memory.gpuAllocatedMiB !== undefined).map((x) => x.memory.gpuAllocatedMiB);
if (gpu.length) console.log("tfjs webgpu bytes allocated (MiB, after each phase):", gpu.join(", "));
try { const m = fs.readFileSync(process.argv[1] + "/gpu-mem.csv", "utf8").split("\n").map(Number).filter((x) => x > 0); console.log("nvidia-smi memory.used peak:", Math.max(...m), "MiB over", m.length, "samples"); } catch {}
' "$LOGDIR"
echo "total $(($(date +%s) - T0)) s"
