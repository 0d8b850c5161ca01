#!/usr/bin/env bash
# One call on a lent GPU machine (JAX, no TensorFlow): train a plan of bench/recipe_runs.py
# and put its logs, histories and best models under $OUT.
#
#   bash bench/gpu_lease.sh PLAN DEADLINE_S [recipe_runs.py options, e.g. --resume]
#
# Needs, in the checkout (both ignored, listed in .git/info/exclude) and named in `carry`,
# both made here by `bash bench/gpu_prepare.sh`:
#   .whl/   keras, namex and optree wheels
#   .pack/fer2013.tar.gz   FER-2013's train/ and validation/ JPEGs
# Move models/modelTrained.h5 and its .tflite twins out of the checkout for the call: with
# them it passes the 64 MiB a call may carry. A second call on the still-warm machine
# reuses /tmp/site, /tmp/fer, /tmp/runs and the compilation cache.
set -euo pipefail
plan=$1 deadline=$2
shift 2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 \
    JAX_COMPILATION_CACHE_DIR=/tmp/jaxcache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0 JAX_DEFAULT_MATMUL_PRECISION=highest
# highest: float32 convolutions in float32, not TF32, so that the finish step's BatchNorm
# recomputation and scoring match the CPU's (training runs in mixed float16 regardless)
[ -d /tmp/fer/fer2013/train ] || { mkdir -p /tmp/fer && tar xzf .pack/fer2013.tar.gz -C /tmp/fer; }
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
python3 bench/recipe_runs.py --data /tmp/fer/fer2013 --runs /tmp/runs --plan "$plan" \
    --deadline "$deadline" --pack "${OUT:?set by the device tool}" "$@"
