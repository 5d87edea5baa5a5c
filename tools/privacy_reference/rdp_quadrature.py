#!/usr/bin/env python3
"""Reference values for tests/privacy/privacy.test.cpp, independent of the series in
include/typegrad/privacy/accountant.hpp: the Renyi divergence of the sampled Gaussian mechanism
computed by numerical integration (Python's math module only).

Mironov, Talwar, Zhang 2019, Sec. 3: with mu0 = N(0, s^2) and mu = (1 - q) mu0 + q N(1, s^2),
    A_alpha = E_{z ~ mu0} [ (mu(z) / mu0(z))^alpha ] = E_{z ~ mu0} [ ((1 - q) + q exp((2z - 1) / (2 s^2)))^alpha ],
and RDP(alpha) = log(A_alpha) / (alpha - 1) per step. Integrated by composite Simpson on
[-60 s, 60 s + 60] with 400 000 intervals (the integrand decays as exp(-z^2/(2 s^2)) times
at most exp(alpha z / s^2)). Run: python3 tools/privacy_reference/rdp_quadrature.py
"""
import math


def log_a(q, s, alpha, n=400_000):
    lo, hi = -60.0 * s, 60.0 * s + 60.0
    h = (hi - lo) / n
    # log-sum-exp over the Simpson terms, for large alpha
    terms = []
    for k in range(n + 1):
        z = lo + k * h
        w = 1.0 if k in (0, n) else (4.0 if k % 2 else 2.0)
        log_ratio = math.log((1 - q) + q * math.exp((2 * z - 1) / (2 * s * s)))
        terms.append(math.log(w) - z * z / (2 * s * s) - 0.5 * math.log(2 * math.pi * s * s) + alpha * log_ratio)
    m = max(terms)
    return m + math.log(sum(math.exp(t - m) for t in terms)) + math.log(h / 3)


CASES = [  # (q, sigma, alpha)
    (0.04, 1.5, 3.9),   # the order Opacus's test ends up at
    (0.04, 1.5, 2.0),
    (0.04, 1.5, 1.1),
    (0.01, 4.0, 20.0),  # Abadi et al.'s setting, the order its epsilon comes from
    (0.01, 4.0, 7.5),
    (0.2, 0.8, 2.5),
    (0.2, 0.8, 12.0),
    (0.001, 1.1, 33.3),
]

if __name__ == "__main__":
    for q, s, alpha in CASES:
        rdp = log_a(q, s, alpha) / (alpha - 1)
        print(f"{{{q!r}, {s!r}, {alpha!r}, {rdp!r}}},")
