#!/usr/bin/env bash
# Issue 19 on a CPU: stage 1 and the held-out predictions of every part (the run on all data first, the longest, then
# folds 0-4) by WORKERS one-thread processes, each claiming the next part not claimed (a lock directory per part in
# the run directory). On 2 cores two one-thread workers finish six parts sooner than one two-thread process. Every
# part resumes from its checkpoint: run the same command again after an interruption (stale locks are cleared at
# start). Stage 2 and the model come after, with the same arguments and --stage 2 (see the model cards).
#   RUN_DIR=runs/fast-l13 ARGS="--layers 1,3" scripts/train_cpu_workers.sh
#   RUN_DIR=runs/mpnet-l56 ARGS="--encoder mpnet --frozen-layers 5 --layers 4,6" scripts/train_cpu_workers.sh
# PARTS picks the parts (default: all 0 1 2 3 4); the folds alone redo a shipped model's cross-validation, e.g. the
# default tier's from its kept all-data model: cp benchmarks/results/cv-preds/v4/*.safetensors runs/minilm-v4r/, then
#   RUN_DIR=runs/minilm-v4r PARTS="0 1 2 3 4" scripts/train_cpu_workers.sh
# With --frozen-layers the frozen layers' states are computed first, once, on every core (the workers share them).
set -u
DATA=${DATA:-../shared/data}
RUN_DIR=${RUN_DIR:-runs/lora-extra}
WORKERS=${WORKERS:-2}
PARTS=${PARTS:-all 0 1 2 3 4}
PY=${PY:-.venv/bin/python}
COMMON="--data $DATA/ptc-semeval2020-task11/datasets --memes $DATA/semeval2021-task6/data --genre --genre-extra \
    --run-dir $RUN_DIR ${ARGS:-}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$RUN_DIR"
rm -rf "$RUN_DIR"/claim-*
OMP_NUM_THREADS=$WORKERS MKL_NUM_THREADS=$WORKERS $PY -m spinlens.training.finetune $COMMON --stage 1 --which \
    >>"$RUN_DIR/lower.log" 2>&1 || { echo "frozen states failed: $RUN_DIR/lower.log" >&2; exit 1; }
worker() {
    for part in $PARTS; do
        mkdir "$RUN_DIR/claim-$part" 2>/dev/null || continue
        $PY -m spinlens.training.finetune $COMMON --which "$part" --stage 1 >>"$RUN_DIR/stage1-$part.log" 2>&1 \
            || { echo "part $part failed: $RUN_DIR/stage1-$part.log" >&2; continue; }
        if [ "$part" != all ]; then
            $PY -m spinlens.training.finetune $COMMON --which "$part" --stage preds >>"$RUN_DIR/preds-$part.log" 2>&1 \
                || echo "predictions of fold $part failed: $RUN_DIR/preds-$part.log" >&2
        fi
        echo "$(date -u +%H:%M:%S) part $part done"
    done
}
for _ in $(seq "$WORKERS"); do worker & sleep 2; done
wait
rm -rf "$RUN_DIR"/claim-*
ls "$RUN_DIR"
