#!/usr/bin/env bash
# Issue 3's GPU measurements in one call of the device tool (an NVIDIA H100/H200 machine, no network).
#
# Here, once (the wheels the GPU image lacks, for Python 3.12; see bench/README.md):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
#     gymnax==1.0.1 gymnasium==1.4.0 farama-notifications==0.0.6 stable-baselines3==2.9.2
# Then the device tool: run(command="bash bench/gpu_dqn.sh", carry=[".whl"], timeout_s=580).
#
# Stages, each under its own timeout so one failure leaves the others' files in $OUT:
#   1. bench/dqn_sb3.py at the CPU bench's population (8 programs x 4 seeds) and at a GPU-sized one
#      (64 x 32 = 2048 agents); SB3 (CPU torch, one thread) runs in the same python on the host CPU.
#   2. examples/dqn_scratch_td.py on examples/dqn_cartpole_scratch_gpu.toml (reproduction (a),
#      256 programs per compiled call), one search seed under a wall-clock budget.
set -u
OUT=${OUT:-/tmp/gpu_dqn_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src:$PWD/bench PYTHONUNBUFFERED=1 DISCOLAB_PEER_PYTHON=$(command -v python3)
{
  date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv; nproc
  python3 -c "import jax, flax, optax, torch, gymnax, pydantic; print('jax', jax.__version__, jax.devices(), 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__)"
} 2>&1 | tee "$OUT/setup.log"

DISCOLAB_CACHE_DIR=off timeout ${BENCH_S:-150} python3 bench/dqn_sb3.py --out "$OUT/dqn_sb3_gpu_p8x4.json" 2>&1 | tee "$OUT/bench.log"
DISCOLAB_CACHE_DIR=off timeout ${BENCH_S:-150} python3 bench/dqn_sb3.py --programs 64 --seeds 32 \
  --out "$OUT/dqn_sb3_gpu_p64x32.json" 2>&1 | tee -a "$OUT/bench.log"

timeout ${SEARCH_S:-260} python3 examples/dqn_scratch_td.py --config examples/dqn_cartpole_scratch_gpu.toml \
  --seeds ${SEARCH_SEEDS:-0} --wall-budget ${SEARCH_BUDGET_S:-220} --studies /tmp/studies \
  --out "$OUT/dqn_scratch_td_gpu.json" 2>&1 | tee "$OUT/search.log"
date -u | tee -a "$OUT/setup.log"
