#!/usr/bin/env bash
# Reproduces nino's own meta-trained nowcasters from nothing (checkpoints/nino-project*.safetensors):
#   1. collect FM-16-3k Adam trajectories on real Fashion-MNIST (seeds 1..4; the benchmark uses 1000/2000),
#   2. meta-train a hidden-32 NiNo GNN and the graph-free per-parameter MLP on them (seed 4 held out),
#   3. copy the final checkpoints into checkpoints/.
# Runtime on the 2-core CPU machine: about 40 min for step 1 (2 workers, machine otherwise idle) and
# about 10 min per model for step 2. Every step resumes if interrupted: rerun the script.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/project}
STEPS=${STEPS:-6000}

./bin/nino --no-progress collect --task FM-16-3k --seeds 1..4 --steps 3000 --every 60 --eval-limit 1000 --out "$OUT/traj" --workers 2
resume() { [ -f "$1/ckpt.safetensors" ] && echo --resume || true; }
./bin/nino --no-progress train-nino --data "$OUT/traj" --model nino --hid 32 --steps "$STEPS" --val 1 --seed 0 --out "$OUT/nino" $(resume "$OUT/nino")
./bin/nino --no-progress train-nino --data "$OUT/traj" --model mlp --hid 32 --steps "$STEPS" --val 1 --seed 0 --out "$OUT/mlp" $(resume "$OUT/mlp")
mkdir -p checkpoints
cp "$OUT/nino/nino.safetensors" checkpoints/nino-project.safetensors
cp "$OUT/mlp/mlp.safetensors" checkpoints/nino-project-mlp.safetensors
echo "wrote checkpoints/nino-project.safetensors and checkpoints/nino-project-mlp.safetensors"
