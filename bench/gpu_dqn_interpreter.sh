#!/usr/bin/env bash
# Which DQN interpreter design runs best on a GPU: one call of the device tool (wheels as in bench/gpu_dqn.sh):
#   run(command="bash bench/gpu_dqn_interpreter.sh", carry=[".whl"], timeout_s=400)
# Each line is bench/dqn_sb3.py without peers: the hand-written loss (ours) and one interpreter design
# (make_runner's interpreter=...) in the same process, so each interpreted / ours ratio is within one run.
# CB: XLA's command buffers (CUDA graphs) extended to conditionals and while loops, whose host round trips
# (a device-to-host copy of each loop condition and switch index) are the suspected cost of the plan.
set -u
OUT=${OUT:-/tmp/gpu_dqn_interpreter_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src:$PWD/bench PYTHONUNBUFFERED=1 DISCOLAB_CACHE_DIR=off
CB="--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,CONDITIONAL,WHILE"
arm() {  # name, seconds, xla flags, bench args...
  local name=$1 limit=$2 flags=$3; shift 3
  echo "== $name ($(date -u +%T))"
  XLA_FLAGS="$flags" timeout "$limit" python3 bench/dqn_sb3.py --no-peers --out "$OUT/$name.json" "$@" 2>&1 \
    | grep -E "ours:|interpreted:|over_ours|Error|error" | head -20
}
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  arm static_p8x4 70 "" --interpreter static
  arm static_p64x32 70 "" --interpreter static --programs 64 --seeds 32
  arm vjp_cb_p8x4 70 "$CB" --interpreter vjp
  arm vjp_cb_p64x32 70 "$CB" --interpreter vjp --programs 64 --seeds 32
  arm static_cb_p64x32 70 "$CB" --interpreter static --programs 64 --seeds 32
  arm unrolled_p8x4 100 "" --interpreter unrolled
  date -u +%T
} 2>&1 | tee "$OUT/interpreters.log"
