#!/usr/bin/env bash
# Here, before the first call of bench/gpu_lease.sh: fetch what the lent GPU machine lacks
# (it has JAX but no Keras) and pack FER-2013, into folders git ignores, so that the call
# can carry them (run with carry [".whl", ".pack"]).
#
#   bash bench/gpu_prepare.sh [DATA_ROOT]     # default ../shared/data
#
# The versions are those of this checkout's environment, so the lease trains with the same
# Keras that scores its models here.
set -euo pipefail
data=${1:-../shared/data}
python=${PYTHON:-.venv/bin/python}
wheels=$("$python" -c "from importlib.metadata import version as v
print(*(f'{name}=={v(name)}' for name in ('keras', 'namex', 'optree')))")
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
for folder in /.whl/ /.pack/; do
    grep -qxF "$folder" "$exclude" 2>/dev/null || echo "$folder" >> "$exclude"
done
rm -rf .whl && mkdir -p .whl .pack
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $wheels
tar czf .pack/fer2013.tar.gz -C "$data" fer2013/train fer2013/validation
ls -l .whl .pack
echo "Now move models/modelTrained.h5 and its .tflite twins out of the checkout for the call" \
     "(with them it passes the 64 MiB a call may carry), then: bash bench/gpu_lease.sh PLAN 470"
