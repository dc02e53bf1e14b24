"""Reference geometry descriptors with numpy, for test/geometry-descriptors.test.ts.

Reads a JSON list of cases {name, n, d, x (flat row-major), topK, topEigenvalues} on stdin and
prints a JSON object name -> descriptors. The formulas mirror src/geometry/descriptors.ts but
use numpy's LAPACK-backed eigvalsh, matrix_rank (SVD of the centred X) and direct distances.
"""

import json
import sys

import numpy as np

EPS = 2.220446049250313e-16


def entropy(weights):
    p = weights / weights.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def alpha_req(lam, cap):
    floor = 1e-12 * lam[0]
    idx = np.nonzero(lam[: min(cap, len(lam))] > floor)[0]
    end = int(idx[-1]) + 1 if len(idx) else 0
    i = np.arange(1, end)
    if len(i) < 3:
        return None, None
    x = np.log(i + 1.0)
    y = np.log(lam[1:end])
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    ss_tot = ((y - y.mean()) ** 2).sum()
    r2 = 1.0 if ss_tot == 0 else 1 - (resid**2).sum() / ss_tot
    return float(-slope), float(r2)


def two_nn(x):
    n = x.shape[0]
    diff = x[:, None, :] - x[None, :, :]
    dist = np.sqrt((diff**2).sum(-1))
    mus = []
    for i in range(n):
        row = np.delete(dist[i], i)
        row = np.sort(row[row > 0])
        if len(row) >= 2:
            mus.append(row[1] / row[0])
    count = len(mus)
    keep = int(np.floor(count * 0.9))
    if keep < 1:
        return None
    mus = np.sort(np.array(mus))[:keep]
    lx = np.log(mus)
    ly = -np.log(1 - np.arange(1, keep + 1) / count)
    sxx = (lx * lx).sum()
    return float((lx * ly).sum() / sxx) if sxx > 0 else None


def describe(case):
    n, d = case["n"], case["d"]
    x = np.asarray(case["x"], dtype=np.float64).reshape(n, d)
    xc = x - x.mean(axis=0)
    if n <= d:
        lam = np.linalg.eigvalsh(xc @ xc.T)
    else:
        lam = np.linalg.eigvalsh(xc.T @ xc)
    lam = np.clip(lam[::-1] / (n - 1), 0, None)
    total = float(lam.sum())
    k = min(case["topK"], len(lam))
    norms = np.linalg.norm(x, axis=1)
    nz = x[norms > 0] / norms[norms > 0][:, None]
    m = nz.shape[0]
    aniso = None
    if m >= 2:
        s = nz.sum(axis=0)
        aniso = float((s @ s - m) / (m * (m - 1)))
    alpha, r2 = alpha_req(lam, min(n - 1, d))
    return {
        "eigenvalues": lam.tolist(),
        "effective_rank": float(np.exp(entropy(np.sqrt(lam)))),
        "participation_ratio": total**2 / float((lam**2).sum()),
        "stable_rank": total / float(lam[0]),
        "spectral_entropy": entropy(lam),
        "alpha_req": alpha,
        "alpha_req_r2": r2,
        "numerical_rank": int(np.linalg.matrix_rank(xc)),
        "top_k": k,
        "top_k_energy": float(lam[:k].sum() / total),
        "anisotropy": aniso,
        "norm_mean": float(norms.mean()),
        "norm_std": float(norms.std()),
        "intrinsic_dim": two_nn(x) if n >= 3 else None,
        "total_variance": total,
        "top_eigenvalues": lam[: case["topEigenvalues"]].tolist(),
    }


def main():
    cases = json.load(sys.stdin)
    json.dump({case["name"]: describe(case) for case in cases}, sys.stdout)


if __name__ == "__main__":
    main()
