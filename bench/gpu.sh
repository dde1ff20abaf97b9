#!/usr/bin/env bash
# Training-step benchmark on a GPU machine, on Keras' JAX backend, archspec's ResNet-50 beside
# keras.applications.ResNet50 in the same run (batch 256, mixed precision, XLA/jit).
#
#   bench/gpu.sh wheels   # here: download the pure-Python wheels the GPU image lacks into .whl/
#   bench/gpu.sh run      # there: install them into /tmp/site and run bench/train_step.py
#
# The GPU image has JAX (with CUDA) but not TensorFlow, so the JAX backend is used; the wheels
# (keras and its pure-Python dependencies, pydantic, click, pyyaml) travel with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-run}" in
wheels)
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  rm -rf .whl && mkdir -p .whl
  plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
  for req in keras absl-py rich namex optree ml-dtypes h5py packaging pydantic pydantic-core \
             annotated-types typing-extensions typing-inspection click pyyaml markdown-it-py mdurl pygments; do
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      "${plat[@]}" -d .whl "$req"
  done
  ls .whl
  ;;
run)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
  python3 bench/train_step.py --nets resnet50 --batch "${BATCH:-256}" --steps "${STEPS:-20}" \
    --precision "${PRECISION:-mixed_bfloat16}" --jit
  ;;
*)
  echo "usage: bench/gpu.sh wheels|run" >&2
  exit 2
  ;;
esac
