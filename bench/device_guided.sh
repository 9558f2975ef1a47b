#!/usr/bin/env bash
# Issue 4's optimizer search (bench/guided.py) on the device machine, in one call of the device tool (no
# network there; the wheels it lacks travel in .whl, see bench/gpu_dqn.sh). The defaults are the throughput
# probe quoted in docs/reproductions.md (Guided evolution, "On the GPU"), about 3 minutes:
#   run(command="bash bench/device_guided.sh", carry=[".whl"], timeout_s=240)
#
# One study per process, each pinned to its own core: plain regularized evolution (re) and guided
# evolution with the best-rated child per slot (binary, fallback/pick "best") on seeds FIRST_SEED ..
# FIRST_SEED+SEEDS-1, all at once, for each JAX platform of PLATFORMS ("cuda cpu": the same studies on the
# GPU and on CPU cores side by side; "cpu" for many seeds at once: 16 small studies sharing one GPU would
# queue on it, while one core per study keeps the arms' wall clocks comparable). Each process writes
# its own JSON (part_PLATFORM_ARM_SEED.json) in a work folder; `bench/guided.py merge` joins each platform's
# parts, and $OUT gets only the merged JSONs, their logs and results.tgz (the whole work folder): the device
# tool returns at most 8 files of $OUT.
#
# Sizing (2026-11-27, H200 machine): a Xeon core there ran a 4,000-evaluation guided study (best-rated
# child) in about 370 s plus a minute of warm-up, about twice this machine's per-core time; RUN_S must
# cover that, or the run is lost (a study writes its JSON only when it ends).
#
# Here, a smoke test of the whole script on this machine's venv (one seed per arm, 300 evaluations):
#   OUT=/tmp/dg PY=.venv/bin/python NO_WHEELS=1 PLATFORMS=cpu EVALS=160 RUN_S=300 \
#     GUIDE='{"fallback": "best", "pick": "best", "min_archive": 64, "retrain_every": 64}' bash bench/device_guided.sh
set -u
OUT=${OUT:-/tmp/device_guided_out}
PY=${PY:-python3}
EVALS=${EVALS:-1000}
FIRST_SEED=${FIRST_SEED:-0}
SEEDS=${SEEDS:-1}
RUN_S=${RUN_S:-175}
ARMS=${ARMS:-re binary}
PLATFORMS=${PLATFORMS:-cuda cpu}
if [ -z "${GUIDE:-}" ]; then GUIDE='{"fallback": "best", "pick": "best"}'; fi
WORK=${WORK:-/tmp/device_guided_work}
mkdir -p "$OUT" "$WORK"
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
} > "$WORK/setup.log" 2>&1
cores=$(nproc)
slot=0
for platform in $PLATFORMS; do
  for seed in $(seq "$FIRST_SEED" $((FIRST_SEED + SEEDS - 1))); do
    for arm in $ARMS; do
      JAX_PLATFORMS=$platform taskset -c $((slot % cores)) timeout "$RUN_S" "$PY" bench/guided.py optimizer \
        --seeds 1 --first-seed "$seed" --arms "$arm" --evaluations "$EVALS" --guide "$GUIDE" \
        --out "$WORK/part_${platform}_${arm}_${seed}.json" > "$WORK/${platform}_${arm}_${seed}.log" 2>&1 &
      slot=$((slot + 1))
    done
  done
done
wait
for platform in $PLATFORMS; do
  if ls "$WORK"/part_"$platform"_*.json > /dev/null 2>&1; then
    "$PY" bench/guided.py merge "$WORK"/part_"$platform"_*.json --out "$OUT/guided_optimizer_device_$platform.json" \
      --figures "$WORK/$platform" 2>&1 | grep -v Warning | tee "$OUT/merge_$platform.log"
  else
    echo "$platform: no run finished" | tee "$OUT/merge_$platform.log"
  fi
done
date -u >> "$WORK/setup.log"
cp "$WORK/setup.log" "$OUT/setup.log"
tar czf "$OUT/results.tgz" -C "$WORK" .
