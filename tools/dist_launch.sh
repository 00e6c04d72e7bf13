#!/usr/bin/env bash
# Usage: tools/dist_launch.sh NPROC SCRIPT [SCRIPT args...]
# Runs tools/SCRIPT in NPROC processes with torchrun: the one launcher of
# dist_train.sh and dist_test.sh. Without CUDA the processes use gloo on CPU.
NPROC=$1
SCRIPT=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
DIR=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}

PYTHONPATH="$DIR":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$DIR"/tools/"$SCRIPT" "${@:3}"
