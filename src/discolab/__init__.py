"""discolab: discover machine-learning algorithms by program search, a population per compiled JAX call."""

import os as _os

__version__ = "0.1.0"

# XLA:CPU's multithreaded Eigen pool can wedge for good on long vmapped
# training calls (jaxlib 0.10: every thread parked, the host blocked in
# BlockUntilReady; seen on PPO and RL-DARTS runs here and reported upstream,
# e.g. PyAutoFit#1528). Single-threaded Eigen avoids it. XLA reads the flag when
# the CPU backend starts, so it is set before any discolab module touches JAX;
# DISCOLAB_EIGEN_THREADS=1 keeps XLA's default.
if _os.environ.get("DISCOLAB_EIGEN_THREADS") != "1" and "xla_cpu_multi_thread_eigen" not in _os.environ.get(
    "XLA_FLAGS", ""
):
    _os.environ["XLA_FLAGS"] = (_os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
