#!/usr/bin/env bash
# Issue 4's optimizer search at a longer budget, on the device machine's 16 CPU cores, in one call of the
# device tool (no network there; the wheels it lacks travel in .whl, see bench/gpu_dqn.sh):
#   run(command="bash bench/device_guided.sh", carry=[".whl"], timeout_s=560)
#
# One study per process, each pinned to its own core: plain regularized evolution (re) and guided
# evolution with the best-rated child per slot (binary, fallback/pick "best") on seeds FIRST_SEED ..
# FIRST_SEED+SEEDS-1, all at once. JAX runs on the CPU (JAX_PLATFORMS=cpu): 16 small studies sharing one
# GPU would queue on it, while one core per study keeps the arms' wall clocks comparable. Each process
# writes its own JSON (part_ARM_SEED.json); the last step joins them with `bench/guided.py merge`.
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
if [ -z "${GUIDE:-}" ]; then GUIDE='{"fallback": "best", "pick": "best"}'; fi
mkdir -p "$OUT"
if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/src:$PWD/bench PYTHONUNBUFFERED=1 JAX_PLATFORMS=cpu
{
  date -u; nproc; lscpu | grep -i 'model name'
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv
  "$PY" -c "import jax, flax, optax, pydantic; print('jax', jax.__version__, jax.devices(), 'flax', flax.__version__)"
  echo "EVALS=$EVALS FIRST_SEED=$FIRST_SEED SEEDS=$SEEDS RUN_S=$RUN_S ARMS=$ARMS GUIDE=$GUIDE"
} > "$OUT/setup.log" 2>&1
cores=$(nproc)
slot=0
for seed in $(seq "$FIRST_SEED" $((FIRST_SEED + SEEDS - 1))); do
  for arm in $ARMS; do
    taskset -c $((slot % cores)) timeout "$RUN_S" "$PY" bench/guided.py optimizer --seeds 1 --first-seed "$seed" \
      --arms "$arm" --evaluations "$EVALS" --guide "$GUIDE" --out "$OUT/part_${arm}_${seed}.json" \
      > "$OUT/${arm}_${seed}.log" 2>&1 &
    slot=$((slot + 1))
  done
done
wait
ls "$OUT"/part_*.json > /dev/null 2>&1 || { echo "no run finished"; tail -n 5 "$OUT"/*.log; exit 1; }
"$PY" bench/guided.py merge "$OUT"/part_*.json --out "$OUT/guided_optimizer_device.json" --figures "$OUT" \
  2>&1 | tee "$OUT/merge.log"
date -u >> "$OUT/setup.log"
