#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that reaches no registry, into .gpu/ (ignored by
# .gitignore, so it travels only when carried): node_modules.tar.xz, a copy of the installed node_modules pruned to what
# Node loads (the `webgpu` package's linux-x64 dawn.node only; no source maps, browser bundles, types,
# typescript, tokenizer tables or text corpora), about 95 MB unpacked; with --with-node also node.tar.xz
# (this machine's node binary), for a machine without Node. The working tree that travels to such a
# machine is limited (64 MiB, the repository's own files included), so check the sizes it prints.
# It needs `webgpu` and @tensorflow/tfjs-backend-webgpu installed beside the rest (see README, GPU).
# The Vulkan loader (libvulkan1) is not packed here: fetch its .deb into .gl/ as the GPU machine's
# notes say (apt-get download libvulkan1), and gpu-check.sh unpacks it.
#
#   bash scripts/gpu-pack.sh [--with-node]
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
for p in webgpu @tensorflow/tfjs-backend-webgpu; do
  [ -f "node_modules/$p/package.json" ] || { echo "gpu-pack: $p is not installed; run npm install --no-save webgpu @tensorflow/tfjs-backend-webgpu@4.22.0" >&2; exit 2; }
done
mkdir -p .gpu
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp -al node_modules "$TMP/node_modules" 2>/dev/null || cp -a node_modules "$TMP/node_modules" # hard links where possible
cd "$TMP/node_modules"
rm -rf typescript @types gpt-tokenizer @stdlib core-js webgpu/dist/darwin-* webgpu/dist/win32-* webgpu/dist/linux-arm64
find . \( -name '*.map' -o -name '*.min.js' -o -name '*.min.js.html' -o -name '*.es2017.js' -o -name '*.fesm.js' -o -name '*.d.ts' \) -delete
# tfjs packages: Node loads only each package's `main` bundle (the per-file ESM build is for bundlers)
for p in @tensorflow/*; do
  main=$(node -p "require('./$p/package.json').main")
  find "$p/dist" -name '*.js' ! -path "*/$main" -delete
done
cd "$TMP"
echo "pruned node_modules: $(du -sh node_modules | cut -f1)"
tar -cf - node_modules | xz -6 -T0 >"$ROOT/.gpu/node_modules.tar.xz"
cd "$ROOT"
if [ "${1:-}" = "--with-node" ]; then
  mkdir -p "$TMP/node/bin" && cp "$(command -v node)" "$TMP/node/bin/node"
  tar -C "$TMP/node" -cf - . | xz -6 -T0 >.gpu/node.tar.xz
fi
ls -la .gpu
echo "tracked files: $(git ls-files -z | xargs -0 du -cb | tail -1 | awk '{printf "%.1f MiB", $1/2^20}'), .gpu: $(du -sb .gpu | awk '{printf "%.1f MiB", $1/2^20}') (64 MiB travel in all)"
