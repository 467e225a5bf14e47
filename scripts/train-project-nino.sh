#!/usr/bin/env bash
# Reproduces nino's own meta-trained nowcasters from nothing:
#   checkpoints/nino-project.safetensors      hidden-32 NiNo GNN (with a token-id embedding for LM graphs)
#   checkpoints/nino-project-mlp.safetensors  hidden-32 graph-free per-parameter MLP (WNN+-style baseline)
# 1. collect Adam trajectories of the two in-distribution CPU tasks, parameters recorded every 60 steps
#    (= period 300 / 5 states), 3,000 steps each, seeds 1..16 of each:
#      FM-16-3k   conv net on real Fashion-MNIST
#      SOTU-2-32  byte-level GPT-2 on the State of the Union corpus
#    (the benchmark uses seeds 1000..4000, never these);
# 2. meta-train both models in three stages, each starting from the one before:
#      stage 1: 2,500 steps on FM-16-3k seeds 1..4 (seed 4 held out for validation);
#      stage 2: 2,500 steps on the mix FM-16-3k 1..4 + SOTU-2-32 1..8 (each batch holds one task, tasks
#               drawn 50/50; seeds 4 and 8 held out);
#      stage 3: 2,000 steps on all 16 + 16 trajectories (seeds 16 held out); the GNN gains a zero-init
#               token-id embedding here (--wte-pos-enc on);
# 3. copy the final checkpoints into checkpoints/.
# Runtime measured on this 2-core machine (tfjs wasm, other jobs often sharing it): collecting about
# 7.5 min per FM-16-3k trajectory and 5 min per SOTU-2-32 trajectory on one core (about 1 h 40 min for
# all 32 with 2 at a time); meta-training, GNN and MLP side by side: GNN stage 1 about 20 min
# (0.47 s/step), stage 2 40 min (0.95 s/step: a language batch is a 37k-edge graph), stage 3 42 min
# (1.26 s/step); MLP 20 + 21 + 23 min. About 4 hours in all. Everything resumes if interrupted: rerun
# the script.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/project}
T=$OUT/traj

./bin/nino --no-progress collect --task FM-16-3k --seeds 1..16 --steps 3000 --every 60 --eval-limit 1000 --out "$T" --workers 2
./bin/nino --no-progress collect --task SOTU-2-32 --seeds 1..16 --steps 3000 --every 60 --out "$T" --workers 2
resume() { [ -f "$1/ckpt.safetensors" ] && echo --resume || true; }
seeds() { for s in $(seq 1 "$2"); do echo "$T/$1/seed-$s.arrow"; done; }   # seeds TASK N: files of seeds 1..N
train() {   # the three stages of one model
  local m=$1 v pe
  v=$([ "$m" = mlp ] && echo "--val-every 250" || true)   # validation does not change the weights, only the logs
  pe=$([ "$m" = nino ] && echo "--wte-pos-enc on" || true)
  ./bin/nino --no-progress train-nino --data $(seeds FM-16-3k 4) --model "$m" --hid 32 --steps 2500 --val 1 $v --seed 0 --workers 1 --out "$OUT/$m-vision" $(resume "$OUT/$m-vision")
  ./bin/nino --no-progress train-nino --data $(seeds FM-16-3k 4) $(seeds SOTU-2-32 8) --init "$OUT/$m-vision/$m.safetensors" --model "$m" --hid 32 --steps 2500 --val 1 $v --seed 0 --workers 1 --out "$OUT/$m-mix" $(resume "$OUT/$m-mix")
  ./bin/nino --no-progress train-nino --data "$T" --init "$OUT/$m-mix/$m.safetensors" $pe --model "$m" --hid 32 --steps 2000 --val 1 $v --seed 0 --workers 1 --out "$OUT/$m-all" $(resume "$OUT/$m-all")
}
# the GNN and the MLP train side by side, one core each
train nino > "$OUT/train-nino.log" 2>&1 & gnn=$!
train mlp > "$OUT/train-mlp.log" 2>&1 & mlp=$!
wait $gnn || { echo "GNN meta-training failed, see $OUT/train-nino.log" >&2; exit 1; }
wait $mlp || { echo "MLP meta-training failed, see $OUT/train-mlp.log" >&2; exit 1; }
mkdir -p checkpoints
cp "$OUT/nino-all/nino.safetensors" checkpoints/nino-project.safetensors
cp "$OUT/mlp-all/mlp.safetensors" checkpoints/nino-project-mlp.safetensors
echo "wrote checkpoints/nino-project.safetensors and checkpoints/nino-project-mlp.safetensors"
