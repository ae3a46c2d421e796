#!/usr/bin/env bash
# Issue 19's GPU part: end-to-end stage 1 for every fold of two variants at once (LoRA adapters, and the frozen-
# encoder control on the same data), then each fold's held-out predictions (`--stage preds`); the adapters, taggers,
# predictions and logs go to $OUT in parts of 15 MiB. Stage 2 (tuning) and the model are made on a CPU from them:
#   python -m spinlens.training.finetune --data ... --memes ... --genre --mode lora --run-dir runs/lora --stage 2 \
#       --model-dir src/spinlens/models/ptc-minilm-lora
# Needs in the checkout (ignored by git, never committed): .devdata/ptc (PTC train), .devdata/memes (SemEval-2021
# task 2 files), .devdata/site (MiniLM weights in float16 as a package), .whl (pydantic & co. for Python 3.12).
set -u
start=$(date +%s)
export SPINLENS_DEADLINE=$(( start + ${STAGE1_SECONDS:-330} ))
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src:$PWD/.devdata/site PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" runs
EPOCHS=${EPOCHS:-8}
GENRE=${GENRE:---genre}
# variants: lora, frozen, and lora-extra (lora with the genre folder's training-only sets: contrast, textbook)
VARIANTS=${VARIANTS:-lora frozen}
# ARGS: more arguments for every variant, e.g. ARGS="--label-layer" (MiniLM only: all-mpnet-base-v2's weights do
# not fit in the 64 MiB a device call carries)
ARGS=${ARGS:-}
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
step() {  # variant, stage, folds...
    local v=$1 stage=$2 extra=""; shift 2
    [ "$v" = lora-extra ] && extra=--genre-extra
    python3 -m spinlens.training.finetune --data .devdata/ptc --memes .devdata/memes $GENRE $extra --mode "${v%-extra}" \
        --epochs "$EPOCHS" --run-dir "runs/$v" --stage "$stage" $ARGS --which "$@" >>"runs/$v-$stage-$1.log" 2>&1
}
for v in $VARIANTS; do for f in 0 1 2 3 4 all; do step $v 1 $f & done; done
wait
echo "stage 1 done after $(( $(date +%s) - start )) s"; grep -h "stage 1\|Error\|error" runs/*.log | head -30
for v in $VARIANTS; do for f in 0 1 2 3 4; do step $v preds $f & done; done
wait
echo "predictions done after $(( $(date +%s) - start )) s"; ls runs/*/preds-*.pkl; grep -h "Error" runs/*.log | head
tar czf /tmp/results.tgz runs/*/finetune.json runs/*.log runs/*/delta-*.safetensors runs/*/tagger-*.safetensors \
    runs/*/preds-*.pkl runs/*/outputs-all.npz 2>/dev/null
split -b 15M /tmp/results.tgz "$OUT/results.tgz.part-"
ls -la "$OUT"; echo "all done after $(( $(date +%s) - start )) s"
