"""Python peer of the `geometry-descriptors` bench scenario: the same descriptors as
src/geometry/descriptors.ts computed with numpy, the spectrum from numpy.linalg.eigvalsh on the
centred Gram matrix X̃X̃ᵀ (n×n), TwoNN from the Gram distances d²_ij = K_ii + K_jj − 2K_ij.

usage: geometry_peer.py '<json>'  with keys file (raw float32, row-major), n, d, repeat, topK,
topEigenvalues. Prints one JSON line: the descriptors, the median/min in-process time of the
whole computation (the matrix already in memory; interpreter start and the file read excluded),
the per-stage split of the fastest run, and the BLAS thread settings.
"""

import json
import os
import sys
import time

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
    if end - 1 < 3:
        return None, None
    x = np.log(np.arange(2, end + 1, dtype=np.float64))
    y = np.log(lam[1:end])
    dx = x - x.mean()
    dy = y - y.mean()
    sxx, sxy, syy = float(dx @ dx), float(dx @ dy), float(dy @ dy)
    slope = sxy / sxx
    r2 = 1.0 if syy == 0 else sxy * sxy / (sxx * syy)
    return -slope, r2


def two_nn(gram):
    n = gram.shape[0]
    diag = np.diag(gram)
    d2 = diag[:, None] + diag[None, :] - 2 * gram
    np.fill_diagonal(d2, np.inf)
    d2[d2 <= 0] = np.inf
    two = np.partition(d2, 1, axis=1)[:, :2]
    ok = np.isfinite(two[:, 1])
    mus = np.sqrt(two[ok, 1] / two[ok, 0])
    count = len(mus)
    keep = int(np.floor(count * 0.9))
    if keep < 1:
        return None
    mus = np.sort(mus)[:keep]
    lx = np.log(mus)
    ly = -np.log(1 - np.arange(1, keep + 1) / count)
    sxx = float(lx @ lx)
    return float((lx @ ly) / sxx) if sxx > 0 else None


def describe(x32, top_k, top_eigenvalues):
    stages = {}
    t0 = time.perf_counter()
    x = x32.astype(np.float64)
    n, d = x.shape
    xc = x - x.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    nz = norms > 0
    m = int(nz.sum())
    unit_sum = (x[nz] / norms[nz][:, None]).sum(axis=0)
    t1 = time.perf_counter()
    gram = xc @ xc.T
    t2 = time.perf_counter()
    lam = np.linalg.eigvalsh(gram)[::-1][: min(n, d)]
    t3 = time.perf_counter()
    lam = np.clip(lam / (n - 1), 0, None)
    total = float(lam.sum())
    k = min(top_k, len(lam))
    alpha, r2 = alpha_req(lam, min(n - 1, d))
    out = {
        "n_samples": n,
        "dim": d,
        "effective_rank": float(np.exp(entropy(np.sqrt(lam)))),
        "participation_ratio": total**2 / float((lam**2).sum()),
        "stable_rank": total / float(lam[0]),
        "spectral_entropy": entropy(lam),
        "alpha_req": alpha,
        "alpha_req_r2": r2,
        "numerical_rank": int((lam > max(n, d) * EPS * lam[0]).sum()),
        "top_k": k,
        "top_k_energy": float(lam[:k].sum() / total),
        "anisotropy": float((unit_sum @ unit_sum - m) / (m * (m - 1))) if m >= 2 else None,
        "norm_mean": float(norms.mean()),
        "norm_std": float(norms.std()),
        "total_variance": total,
        "top_eigenvalues": lam[:top_eigenvalues].tolist(),
    }
    t4 = time.perf_counter()
    out["intrinsic_dim"] = two_nn(gram)
    t5 = time.perf_counter()
    stages = {
        "prepare": t1 - t0,
        "gram": t2 - t1,
        "eigvalsh": t3 - t2,
        "spectral": t4 - t3,
        "two_nn": t5 - t4,
    }
    return out, t5 - t0, stages


def main():
    args = json.loads(sys.argv[1])
    n, d = args["n"], args["d"]
    x32 = np.fromfile(args["file"], dtype=np.float32).reshape(n, d)
    times = []
    best = None
    result = None
    for _ in range(args["repeat"] + 1):  # the first run is a warm-up
        result, seconds, stages = describe(x32, args["topK"], args["topEigenvalues"])
        times.append(seconds)
        if best is None or seconds < best[0]:
            best = (seconds, stages)
    times = times[1:]
    print(
        json.dumps(
            {
                "descriptors": result,
                "median_seconds": float(np.median(times)),
                "min_seconds": float(min(times)),
                "times": times,
                "stages": best[1],
                "numpy": np.__version__,
                "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
            }
        )
    )


if __name__ == "__main__":
    main()
