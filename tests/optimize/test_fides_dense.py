"""Fides with dense diagonal matrices (bngfit.optimize._fides_dense) runs as fides does."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csc_matrix

from bngfit.optimize._fides_dense import Diagonal, dense_diagonals
from tests.helpers import EXAMPLE


def test_diagonal_algebra_matches_scipy_sparse():
    rng = np.random.default_rng(0)
    v, w = rng.uniform(0.1, 2, 5), rng.standard_normal(5)
    m, g = rng.standard_normal((5, 5)), rng.standard_normal(5)
    ds, dd = csc_matrix(np.diag(v)), Diagonal.from_dense(np.diag(v))
    es, ed = csc_matrix(np.diag(w)), Diagonal.from_dense(np.diag(w))
    np.testing.assert_allclose(dd.dot(g), ds.dot(g), rtol=1e-15)
    np.testing.assert_allclose(dd.dot(m), ds.dot(m), rtol=1e-15)
    # fides' B_hat: D * H * D + diag(g) J_v, with * the matrix product
    np.testing.assert_allclose(np.asarray(dd * m * dd + ed), np.asarray(ds * m * ds + es),
                               rtol=1e-14)
    np.testing.assert_allclose(m * dd, np.asarray(m @ ds.toarray()), rtol=1e-15)
    np.testing.assert_allclose(dd.diagonal(), ds.diagonal())
    c = dd.copy()
    c.d[0] = -1.0
    assert dd.d[0] == v[0]  # a copy, not a view


def test_fides_iterates_are_the_same_with_dense_diagonals():
    import bngfit
    from bngfit.optimize._local import OptimizerName, minimize

    problem = bngfit.load_problem(EXAMPLE)
    obj = bngfit.Objective(problem)
    x0 = problem.lb + 0.3 * (problem.ub - problem.lb)
    runs = [minimize(obj, x0, problem.lb, problem.ub, OptimizerName.FIDES,
                     {"dense_diagonals": dense}) for dense in (False, True)]
    (a, ca), (b, cb) = runs
    # the same iterates up to round-off (the dense products sum in another
    # order), so the stopping test may fire one iteration apart
    assert abs(ca.n_fval - cb.n_fval) <= 1 and min(ca.n_fval, cb.n_fval) > 20
    n = min(ca.n_fval, cb.n_fval)
    np.testing.assert_allclose(cb.trace[:n], ca.trace[:n], rtol=1e-9)
    np.testing.assert_allclose(b.x, a.x, rtol=1e-6, atol=1e-8)
    assert cb.best.fval == pytest.approx(ca.best.fval, rel=1e-11)
    assert a.message == b.message


def test_the_swap_is_undone_after_the_run():
    import fides.minimize
    import fides.trust_region

    with dense_diagonals() as used:
        assert used, "this fides release should reproduce its iterates with the swap"
        assert fides.minimize.csc_matrix == Diagonal.from_dense
        with dense_diagonals():  # nested (threads of one process)
            pass
        assert fides.trust_region.csc_matrix == Diagonal.from_dense
    assert fides.minimize.csc_matrix is csc_matrix
    assert fides.trust_region.csc_matrix is csc_matrix


def test_a_run_that_raises_still_undoes_the_swap():
    import fides.minimize

    with pytest.raises(RuntimeError), dense_diagonals():
        raise RuntimeError("boom")
    assert fides.minimize.csc_matrix is csc_matrix
