"""Reference representational similarities with numpy/scipy, for test/geometry-similarity.test.ts.

Reads a JSON list of cases {name, n, dx, dy, x, y (flat row-major)} on stdin and prints a JSON
object name -> {cka, cka_debiased, cka_debiased_raw, cka_debiased_ucentred, procrustes_svd,
procrustes_scipy, procrustes_scipy_direct}.
Deliberately independent of src/geometry/similarity.ts: CKA from the n×n centred Gram matrices,
debiased CKA from the full Song et al. (2012) eq. 5 on the Gram matrices of the centred and of the
raw matrices (it is translation invariant) and, as a second formulation, from Kornblith's
U-centred Gram matrices, Procrustes from an SVD and from
scipy.linalg.orthogonal_procrustes on zero-padded matrices.
"""

import json
import os
import sys

import numpy as np
from scipy.linalg import orthogonal_procrustes


def cka(x, y):
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k = h @ (x @ x.T) @ h
    l = h @ (y @ y.T) @ h
    den = np.linalg.norm(k) * np.linalg.norm(l)
    return None if den == 0 else float((k * l).sum() / den)


def hsic_u(k, l):
    """Song et al. 2012, eq. 5: the unbiased HSIC estimator, diagonals zeroed."""
    n = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    one = np.ones(n)
    term1 = np.trace(k @ l)
    term2 = (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
    term3 = 2 / (n - 2) * (one @ k @ l @ one)
    return (term1 + term2 - term3) / (n * (n - 3))


def cka_debiased(x, y):
    if x.shape[0] < 4:
        return None
    k = x @ x.T
    l = y @ y.T
    return float(hsic_u(k, l) / np.sqrt(hsic_u(k, k) * hsic_u(l, l)))


def u_centre(gram):
    """Kornblith et al.'s center_gram(unbiased=True) (Székely & Rizzo 2014 U-centring)."""
    n = gram.shape[0]
    g = gram.copy()
    np.fill_diagonal(g, 0)
    means = g.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    g -= means[:, None]
    g -= means[None, :]
    np.fill_diagonal(g, 0)
    return g


def cka_debiased_ucentred(x, y):
    if x.shape[0] < 4:
        return None
    k = u_centre(x @ x.T)
    l = u_centre(y @ y.T)
    return float((k * l).sum() / np.sqrt((k * k).sum() * (l * l).sum()))


def unit_centred(a):
    a = a - a.mean(axis=0)
    return a / np.linalg.norm(a)


def procrustes_svd(x, y):
    xs, ys = unit_centred(x), unit_centred(y)
    return float(2 - 2 * np.linalg.svd(xs.T @ ys, compute_uv=False).sum())


def procrustes_scipy(x, y):
    xs, ys = unit_centred(x), unit_centred(y)
    width = max(xs.shape[1], ys.shape[1])
    xp = np.pad(xs, ((0, 0), (0, width - xs.shape[1])))
    yp = np.pad(ys, ((0, 0), (0, width - ys.shape[1])))
    # orthogonal_procrustes(A, B) minimises ‖AR − B‖ and returns the nuclear norm of AᵀB.
    r, scale = orthogonal_procrustes(yp, xp)
    direct = float(((xp - yp @ r) ** 2).sum())
    return float(2 - 2 * scale), direct


def compare(case):
    n = case["n"]
    x = np.asarray(case["x"], dtype=np.float64).reshape(n, case["dx"])
    y = np.asarray(case["y"], dtype=np.float64).reshape(n, case["dy"])
    scipy_value, scipy_direct = procrustes_scipy(x, y)
    return {
        "cka": cka(x, y),
        # HSIC_u is translation invariant; centring first avoids cancellation with large means.
        "cka_debiased": cka_debiased(x - x.mean(axis=0), y - y.mean(axis=0)),
        "cka_debiased_raw": cka_debiased(x, y),
        "cka_debiased_ucentred": cka_debiased_ucentred(x, y),
        "procrustes_svd": procrustes_svd(x, y),
        "procrustes_scipy": scipy_value,
        "procrustes_scipy_direct": scipy_direct,
    }


def main():
    cases = json.load(sys.stdin)
    json.dump({case["name"]: compare(case) for case in cases}, sys.stdout)
    sys.stdout.flush()
    # Skip interpreter teardown (BLAS thread pools can hang it on loaded machines).
    os._exit(0)


if __name__ == "__main__":
    main()
