#!/usr/bin/env bash
# The GPU checks of issue 12 in one run (< 8 minutes on one H200):
#   1. set-up: install the carried OpenMMLab wheels (the lines of
#      ../shared/gpu/setup_device.sh, pasted: ../shared does not travel);
#   2. python tools/benchmark.py --device cuda at T1 scale (224 px, batch
#      128): img/s and peak memory of the five training steps, fp32 and bf16;
#   3. tools/train.py on offline mnist (the stage-1 ResNet-18) in fp32 and
#      with --amp, seed 0, test acc@1 of each (an MLFD student needs a trained
#      joint teacher, which a fresh machine does not have).
#
# Before: on a machine with network, `bash ../shared/gpu/bundle.sh` (puts the
# wheels into .whl/) and `python tools/prepare_offline_data.py` (data/offline).
# Run from the repository root, carrying the ignored paths it needs:
#   run(command='bash tools/gpu_check.sh', carry=['.whl', 'data/offline/mnist'],
#       timeout_s=600)   # the parts' own timeouts add up to 600 s
# Everything is written under $OUT (default work_dirs/gpu_check): one log per
# part, device.json/.md, mnist_{fp32,amp}.json and summary.txt.
#
#   bash tools/gpu_check.sh --dry-run   # the same parts on the CPU, tiny
#                                       # sizes, no install (check it here)
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-work_dirs/gpu_check}
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
mkdir -p "$OUT"
# A reused machine keeps what an earlier run wrote: start clean.
rm -rf "$OUT"/mnist_* "$OUT"/*.log "$OUT"/device.* "$OUT"/summary.txt
LOG="$OUT/gpu_check.log"

log() { echo "[$(date +%T)] $*" | tee -a "$LOG"; }
# part NAME SECONDS COMMAND...: run under its own timeout, log to $OUT/NAME.log
part() {
  local name=$1 limit=$2
  shift 2
  log "start $name (timeout ${limit}s): $*"
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  log "end $name: rc=$rc"
  tail -n 25 "$OUT/$name.log"
  return $rc
}

if [ "$DRY" = 1 ]; then
  PY=${PYTHON:-.venv/bin/python}
  DEVICE=cpu BATCH=2 SIZE=64 ITERS=1 WARMUP=1 EPOCHS=1
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  log "dry run on the CPU with $PY (no install)"
else
  PY=python3
  DEVICE=cuda BATCH=128 SIZE=224 ITERS=20 WARMUP=5 EPOCHS=20
  if ! ls .whl/*.whl > /dev/null 2>&1; then
    log ".whl/ is missing: run 'bash ../shared/gpu/bundle.sh' where there is network and carry .whl"
    exit 2
  fi
  part setup 120 bash -c '
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl 2>&1 | grep -v WARN | tail -2
    sp=$(python3 -c "import site; print(site.getsitepackages()[0])")
    printf "from importlib.metadata import *\nfrom importlib.metadata import PackageNotFoundError, distribution, version\n" > "$sp/importlib_metadata.py"
    python3 -c "import mmengine, mmpretrain.models, mmaction.models, torch; print(\"device ready:\", torch.__version__, torch.cuda.get_device_name(0))"
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv' || exit 3
fi

part benchmark 240 "$PY" tools/benchmark.py --device "$DEVICE" \
  --batch-size "$BATCH" --image-size "$SIZE" --iters "$ITERS" \
  --warmup "$WARMUP" --out "$OUT/device.json"

MNIST=configs/teachers/offline_mnist_resnet18.py
for mode in fp32 amp; do
  flag=()
  [ "$mode" = amp ] && flag=(--amp)
  part "train_$mode" 120 "$PY" tools/train.py "$MNIST" "${flag[@]}" \
    --work-dir "$OUT/mnist_$mode" --test-best "$OUT/mnist_$mode.json" \
    --cfg-options randomness.seed=0 train_cfg.max_epochs="$EPOCHS" \
    default_hooks.checkpoint.max_keep_ckpts=1
done

{
  echo "device: $DEVICE; $(date -u +%FT%TZ)"
  [ -f "$OUT/device.md" ] && cat "$OUT/device.md"
  for mode in fp32 amp; do
    if [ -f "$OUT/mnist_$mode.json" ]; then
      echo "mnist $mode (seed 0, $EPOCHS epochs): $(cat "$OUT/mnist_$mode.json")"
    else
      echo "mnist $mode: no result; $(grep -m1 -E '^[A-Za-z.]*(Error|Exception)' "$OUT/train_$mode.log")"
    fi
  done
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
