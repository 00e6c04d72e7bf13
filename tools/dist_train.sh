#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG GPUS_OR_PROCS [train.py args...]
# On a machine without CUDA the processes train on CPU with gloo.
exec bash "$(dirname "$0")"/dist_launch.sh "$2" train.py "$1" \
    --launcher pytorch "${@:3}"
