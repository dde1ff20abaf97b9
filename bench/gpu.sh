#!/usr/bin/env bash
# Training-step benchmark on a GPU machine, on Keras' JAX backend, archspec's ResNet-50 beside
# keras.applications.ResNet50 in the same run (batch 256, mixed precision, XLA/jit).
#
#   bench/gpu.sh wheels   # here: download the wheels the GPU image lacks into .whl/
#   bench/gpu.sh run      # there: install them into /tmp/site and run bench/train_step.py per row of RUNS
#
# The GPU image has JAX (with CUDA) but not TensorFlow, so the JAX backend is used; the wheels travel
# with the working tree. Only what the image lacks (or has at another version than .venv) is carried:
# a second ml-dtypes or numpy beside JAX's own would break it. Each row's output is appended to
# $OUT/gpu.log (or build/gpu.log) as it finishes, so a run cut short still reports its first rows.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-run}" in
wheels)
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  rm -rf .whl && mkdir -p .whl
  plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
  pinned() { .venv/bin/python -c "import importlib.metadata as m; print('$1==' + m.version('$1'))"; }
  for req in "$(pinned keras)" "$(pinned namex)" "$(pinned optree)" "$(pinned pydantic)" "$(pinned pydantic_core)" \
             annotated-types typing-extensions typing-inspection; do
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      "${plat[@]}" -d .whl "$req"
  done
  ls .whl
  ;;
run)
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax
  log="${OUT:-build}/gpu.log" && mkdir -p "$(dirname "$log")"
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c "import jax, keras, sys; print('python', sys.version.split()[0], 'jax', jax.__version__, 'keras', keras.__version__, jax.devices())"
  } 2>&1 | tee -a "$log"
  # network:batch rows, most wanted first: ResNet-50 at 256 is the row NVIDIA's tables compare with.
  for row in ${RUNS:-resnet50:256 efficientnet_b0:256 resnet50:64 resnet50:512 convnext_tiny:256}; do
    PYTHONUNBUFFERED=1 python3 bench/train_step.py --nets "${row%%:*}" --batch "${row##*:}" --steps "${STEPS:-12}" \
      --warmup 2 --precision "${PRECISION:-mixed_bfloat16}" --jit 2>&1 | grep -v "^WARNING\|^I0000\|^E0000" | tee -a "$log" || echo "row $row failed" | tee -a "$log"
  done
  ;;
*)
  echo "usage: bench/gpu.sh wheels|run" >&2
  exit 2
  ;;
esac
