"""Reproduces the XLA:CPU hang of a vmapped orthogonal init (jaxlib 0.10.2) and shows that discolab's init avoids it.

Usage::

    .venv/bin/python bench/xla_qr_deadlock.py             # both arms, 60 s each at most

Each arm runs in a subprocess: one jitted call that initializes six
16-matrix populations with an orthogonal initializer under ``vmap``, called
``--calls`` times. With flax's ``nn.initializers.orthogonal`` the six QRs are
batched LAPACK calls that fan out over XLA:CPU's intra-op pool and wait for
their parts from inside it; two at once on a 2-thread pool wait for each
other forever (gdb: both ``tf_XLAEigen`` threads in ``jax::ParallelBatchMap``
under ``lapack_sgeqrf_ffi``, the host in ``BlockUntilReady``). discolab's
``rl.networks._orthogonal`` maps over the batch (the same matrices) and
finishes. On a machine with more cores the hang may need more calls.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench_support import machine, now, source_revision, versions, write_result

WORKER = """
import sys, jax, flax.linen as nn
from discolab.rl.networks import _orthogonal
init = _orthogonal(1.4) if sys.argv[1] == "discolab" else nn.initializers.orthogonal(1.4)
def six_populations(key):
    return [jax.vmap(lambda k: init(k, (64, 64)))(jax.random.split(k, 16)) for k in jax.random.split(key, 6)]
run = jax.jit(six_populations)
for i in range(int(sys.argv[2])):
    jax.block_until_ready(run(jax.random.key(i)))
"""


def arm(name: str, calls: int, timeout_s: float) -> dict:
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-c", WORKER, name, str(calls)], check=True, timeout=timeout_s)
        finished = True
    except subprocess.TimeoutExpired:
        finished = False
    return {"arm": name, "calls": calls, "finished": finished, "wall_s": round(time.perf_counter() - start, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before an arm counts as hung")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/xla_qr_deadlock.json)")
    args = parser.parse_args()
    started = now()
    rows = [arm(name, args.calls, args.timeout) for name in ("flax", "discolab")]
    print(json.dumps(rows, indent=1))
    result = {
        "benchmark": "a vmapped orthogonal init on XLA:CPU: flax's (batched LAPACK QR) vs discolab's (one QR at a time)",
        "command": "python bench/xla_qr_deadlock.py " + " ".join(sys.argv[1:]), "date": started,
        "machine": machine(), "versions": versions(("discolab", "jax", "jaxlib", "flax")),
        "source": source_revision(), "timeout_s": args.timeout, "arms": rows,
    }
    print(f"wrote {write_result('xla_qr_deadlock', result, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
