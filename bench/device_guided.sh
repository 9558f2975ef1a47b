#!/usr/bin/env bash
# Issue 4's optimizer search at a longer budget, on the device machine's 16 CPU cores, in one call of the
# device tool (no network there; the wheels it lacks travel in .whl, see bench/gpu_dqn.sh):
#   run(command="bash bench/device_guided.sh", carry=[".whl"], timeout_s=560)
#
# One study per process, each pinned to its own core: plain regularized evolution (re) and guided
# evolution with the best-rated child per slot (binary, fallback/pick "best") on seeds FIRST_SEED ..
# FIRST_SEED+SEEDS-1, all at once, for each JAX platform of PLATFORMS (default cpu: 16 small studies
# sharing one GPU would queue on it, while one core per study keeps the arms' wall clocks comparable;
# PLATFORMS="cuda cpu" runs the same studies on the GPU and on CPU cores side by side). Each process writes
# its own JSON (part_PLATFORM_ARM_SEED.json); `bench/guided.py merge` joins each platform's parts, and
# everything is packed into results.tgz (the device tool returns a limited number of files).
#
# Here, a smoke test of the whole script on this machine's venv (one seed per arm, 300 evaluations):
#   OUT=/tmp/dg PY=.venv/bin/python NO_WHEELS=1 EVALS=300 SEEDS=1 bash bench/device_guided.sh
set -u
OUT=${OUT:-/tmp/device_guided_out}
PY=${PY:-python3}
EVALS=${EVALS:-4000}
FIRST_SEED=${FIRST_SEED:-10}
SEEDS=${SEEDS:-8}
RUN_S=${RUN_S:-470}
ARMS=${ARMS:-re binary}
PLATFORMS=${PLATFORMS:-cpu}
if [ -z "${GUIDE:-}" ]; then GUIDE='{"fallback": "best", "pick": "best"}'; fi
mkdir -p "$OUT"
if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/src:$PWD/bench PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
{
  date -u; nproc; lscpu | grep -i 'model name'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
  "$PY" -c "import jax, flax, optax, pydantic; print('jax', jax.__version__, jax.devices(), 'flax', flax.__version__)"
  echo "EVALS=$EVALS FIRST_SEED=$FIRST_SEED SEEDS=$SEEDS RUN_S=$RUN_S ARMS=$ARMS PLATFORMS=$PLATFORMS GUIDE=$GUIDE"
} > "$OUT/setup.log" 2>&1
cores=$(nproc)
slot=0
for platform in $PLATFORMS; do
  for seed in $(seq "$FIRST_SEED" $((FIRST_SEED + SEEDS - 1))); do
    for arm in $ARMS; do
      JAX_PLATFORMS=$platform taskset -c $((slot % cores)) timeout "$RUN_S" "$PY" bench/guided.py optimizer \
        --seeds 1 --first-seed "$seed" --arms "$arm" --evaluations "$EVALS" --guide "$GUIDE" \
        --out "$OUT/part_${platform}_${arm}_${seed}.json" > "$OUT/${platform}_${arm}_${seed}.log" 2>&1 &
      slot=$((slot + 1))
    done
  done
done
wait
for platform in $PLATFORMS; do
  if ls "$OUT"/part_"$platform"_*.json > /dev/null 2>&1; then
    "$PY" bench/guided.py merge "$OUT"/part_"$platform"_*.json --out "$OUT/guided_optimizer_device_$platform.json" \
      --figures "$OUT/$platform" 2>&1 | grep -v Warning | tee "$OUT/merge_$platform.log"
  else
    echo "$platform: no run finished"
  fi
done
date -u >> "$OUT/setup.log"
tar czf /tmp/results.tgz -C "$OUT" . && mv /tmp/results.tgz "$OUT/results.tgz"
