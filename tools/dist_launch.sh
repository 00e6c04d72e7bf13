#!/usr/bin/env bash
# Usage: tools/dist_launch.sh NPROC SCRIPT [SCRIPT args...]
# Runs tools/SCRIPT in NPROC processes with torchrun: the one launcher of
# dist_train.sh and dist_test.sh. Without CUDA the processes use gloo on CPU.
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python).
DIR=$(cd "$(dirname "$0")/.." && pwd)

PYTHONPATH="$DIR":$PYTHONPATH \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$1" \
    --master_port="${PORT:-29500}" \
    "$DIR"/tools/"$2" "${@:3}"
