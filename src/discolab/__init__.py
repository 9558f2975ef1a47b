"""discolab: discover machine-learning algorithms by program search, a population per compiled JAX call."""

import os as _os

__version__ = "0.1.0"

# XLA:CPU's intra-op pool can wedge for good when a kernel re-enters it and
# waits (jaxlib 0.10: every thread parked, the host blocked in BlockUntilReady).
# Our PPO and RL-DARTS hangs were batched LAPACK QRs (rl/networks.py avoids
# them); upstream reports the same with FFTs and Eigen (PyAutoFit#1528, #1530).
# Single-threaded Eigen closes the Eigen path. XLA reads the flag when the CPU
# backend starts, so it is set before any discolab module touches JAX;
# DISCOLAB_EIGEN_THREADS=1 keeps XLA's default.
if _os.environ.get("DISCOLAB_EIGEN_THREADS") != "1" and "xla_cpu_multi_thread_eigen" not in _os.environ.get(
    "XLA_FLAGS", ""
):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
