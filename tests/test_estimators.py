"""The scikit-learn style facade: fit finds a formula, predict/sympy/source agree with it."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from discolab.estimators import SymbolicRegressor
from discolab.study import Store


def test_fit_recovers_a_two_variable_formula(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = X[:, 0] * X[:, 1] + X[:, 0]
    reg = SymbolicRegressor(ops=("add", "sub", "mul"), constants=(), max_nodes=6, evaluations=1500,
                            population_size=60, tournament_size=6, batch_size=100, crossover_probability=0.3,
                            study=tmp_path / "fit.db")
    reg.fit(X, y)
    best = reg.results_[0]
    assert best["nrmse_test"] < 1e-5
    assert [r["fitness"] for r in reg.results_] == sorted((r["fitness"] for r in reg.results_), reverse=True)
    np.testing.assert_allclose(reg.predict(X), y, atol=1e-5)
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert sympy.expand(reg.sympy() - (x0 * x1 + x0)) == 0
    namespace: dict = {}
    exec(reg.source(), namespace)
    np.testing.assert_allclose(np.asarray(namespace["program"](X[:, 0], X[:, 1])), y, atol=1e-5)
    with Store.open(tmp_path / "fit.db", readonly=True) as store:  # a real, resumable study
        assert store.counts().evaluated == 1500


def test_fit_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="X must be"):
        SymbolicRegressor().fit(np.zeros((3, 1)), np.zeros(4))
    with pytest.raises(RuntimeError, match="fit"):
        SymbolicRegressor().predict(np.zeros((3, 1)))


def test_fit_with_the_arrays_engine_stores_a_real_study(tmp_path):
    # CSV data through the arrays engine: "recovered" there means a held-out NRMSE under the tolerance.
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = X[:, 0] * X[:, 1] + X[:, 0]
    reg = SymbolicRegressor(ops=("add", "sub", "mul"), constants=(), max_nodes=6, evaluations=1500,
                            population_size=60, tournament_size=6, batch_size=100, engine="arrays",
                            study=tmp_path / "arrays.db")
    reg.fit(X, y)
    assert reg.results_[0]["nrmse_test"] < 1e-5
    np.testing.assert_allclose(reg.predict(X), y, atol=1e-5)
    with Store.open(tmp_path / "arrays.db", readonly=True) as store:
        assert store.config()["study"]["engine"] == "arrays" and store.counts().evaluated == 1500
        rows = [r for r in store.rows() if r.duplicate_of is None]
    exact = [r for r in rows if r.objectives.get("nrmse_test", 1.0) < 1e-6]
    assert exact and all(r.details["recovered"] for r in exact)
    assert not any(r.details["recovered"] for r in rows if r.objectives.get("nrmse_test", 1.0) >= 1e-4)
