"""What every benchmark records beside its figures: the machine, package versions, the source revision.

Imported by the scripts in bench/ (run them from the repository root:
``python bench/NAME.py``, which puts this folder on ``sys.path``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict[str, Any]:
    """CPU model, core counts and JAX devices."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import jax

    return {
        "platform": platform.platform(), "cpu": model, "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "jax_devices": [str(d) for d in jax.devices()],
    }


def versions(packages: Sequence[str] = ("discolab", "jax", "jaxlib", "numpy")) -> dict[str, str]:
    """Python and the named packages' installed versions."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def source_revision() -> dict[str, Any]:
    """The git commit of this checkout and whether src/ differs from it (figures depend on both)."""

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    changed = git("status", "--porcelain", "--", "src")
    return {"commit": git("rev-parse", "HEAD"), "src_changed": None if changed is None else changed.splitlines()}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_result(name: str, result: dict[str, Any], out: Path | None = None) -> Path:
    """Writes ``bench/results/NAME.json`` (or ``out``) and returns the path."""
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


#: The peers' interpreter: a separate venv (stable-baselines3, sbx-rl, torch), so discolab's own stays lean;
#: ``$DISCOLAB_PEER_PYTHON`` names another (the GPU machine runs the peers in its own python, bench/gpu_dqn.sh).
PEER_PYTHON = Path(os.environ.get("DISCOLAB_PEER_PYTHON", ROOT / ".venv-bench" / "bin" / "python"))


def run_peer_worker(script: str | Path, job: dict[str, Any]) -> dict[str, Any]:
    """Runs ``script --peer-worker JOB`` in ``.venv-bench`` and returns the JSON row its last line prints.

    A missing venv or a failed subprocess gives ``{"skipped": why}`` (with the
    stderr tail), so a bench still writes its own arms.
    """
    import time

    if not PEER_PYTHON.exists():
        return {"skipped": f"{PEER_PYTHON} not found: python3 -m venv .venv-bench && "
                           ".venv-bench/bin/pip install stable-baselines3 sbx-rl"}
    t = time.perf_counter()
    proc = subprocess.run(
        [str(PEER_PYTHON), str(Path(script).resolve()), "--peer-worker", json.dumps(job)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    wall_s = time.perf_counter() - t
    if proc.returncode != 0:
        why = "not installed in .venv-bench" if "No module named" in proc.stderr else f"rc {proc.returncode}"
        return {"skipped": f"the {job.get('lib')} subprocess failed ({why})", "stderr": proc.stderr[-3000:]}
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["subprocess_wall_s"] = wall_s
    return row


def throughput_ratios(rows: dict[str, dict[str, Any]], peers: Sequence[str] = ("sb3", "sbx")) -> dict[str, float]:
    """Steps/s ratios of a bench's rows (wall and CPU seconds, with compile and steady).

    ``interpreted_over_ours_*``: median over the alternating repeats stored in
    ``rows["interpreted"]["repeats"]`` (or the single pair); ``ARM_over_PEER_*``
    for ``ours`` and ``interpreted`` against every peer that ran.
    """
    import statistics

    ratios: dict[str, float] = {}
    repeats = rows["interpreted"].get("repeats") or [{"ours": rows["ours"], "interpreted": rows["interpreted"]}]
    keys = [f"{kind}_steps_per_{unit}" for kind in ("with_compile", "steady") for unit in ("s", "cpu_s")]
    for key in keys:
        ratios[f"interpreted_over_ours_{key}"] = float(statistics.median(
            r["interpreted"][key] / r["ours"][key] for r in repeats))
    for peer in peers:
        if "steady_steps_per_s" not in rows[peer]:
            continue
        for key in keys:
            for arm in ("ours", "interpreted"):
                ratios[f"{arm}_over_{peer}_{key}"] = rows[arm][key] / rows[peer][key]
    return ratios

