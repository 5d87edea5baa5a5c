#!/usr/bin/python3
"""Writes the small .npy inputs of tests/io/data_io.test.cpp with NumPy itself (independent of
typegrad's reader). Run from the repository root: /usr/bin/python3 tests/data/data_make_npy.py"""
import os
import numpy as np
from numpy.lib import format as npf

here = os.path.dirname(os.path.abspath(__file__))


def save(name, array, version=None):
    with open(os.path.join(here, name), "wb") as f:
        npf.write_array(f, array, version=version, allow_pickle=False)


# value(r, c) = 0.5 * (3 r + c) - 1 for a 2 x 3 array; the test recomputes it.
grid = np.array([[0.5 * (3 * r + c) - 1 for c in range(3)] for r in range(2)])
save("data_f8_2x3.npy", grid.astype("<f8"))
save("data_f4_2x3_v2.npy", grid.astype("<f4"), version=(2, 0))
save("data_i8_5.npy", np.array([-3, -1, 0, 2, 1 << 40], dtype="<i8"))
save("data_i4_5.npy", np.array([-3, -1, 0, 2, 7], dtype="<i4"))
save("data_u1_4.npy", np.array([0, 1, 128, 255], dtype="|u1"))
save("data_fortran_2x3.npy", np.asfortranarray(grid))                  # rejected: Fortran order
save("data_big_endian_3.npy", np.array([1, 2, 3], dtype=">f4"))         # rejected: big-endian
save("data_nan_2x2.npy", np.array([[1.0, 2.0], [np.nan, 4.0]], dtype="<f4"))  # rejected: NaN at (1, 0)
save("data_3d.npy", np.zeros((2, 2, 2), dtype="<f4"))                  # rejected: 3-D

# The first 16 samples of /work/shared/data/ecg_mitbih208.npy (uint16, header as SciPy ships it).
ecg = os.path.join("/work/shared/data", "ecg_mitbih208.npy")
if os.path.exists(ecg):
    save("data_ecg_head.npy", np.load(ecg)[:16].astype("<u2"))
