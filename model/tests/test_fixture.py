"""deepsc/fixture.py: the torch generator gives the parity fixture's values exactly (the formula in numpy's
unsigned arithmetic, as the fixture was first written) and refuses sizes where int64 would no longer be exact."""

import numpy as np
import pytest

from deepsc.fixture import HASH_MUL, hash_tensor


@pytest.mark.parametrize(("shape", "seed"), [((1, 1, 48, 256, 256), 12345), ((3, 5, 7), 0), ((1000,), 2**32 - 1)])
def test_matches_unsigned_formula(shape, seed):
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    u = (i * np.uint64(HASH_MUL) + np.uint64(seed)) & np.uint64(0xFFFFFFFF)
    expected = (u.astype(np.float64) / 2.0**32).astype(np.float32).reshape(shape)
    got = hash_tensor(shape, seed).numpy()
    assert got.dtype == np.float32
    assert np.array_equal(got, expected)
    assert got.min() >= 0.0 and got.max() <= 1.0  # float32 rounds values just under 1 up to 1


def test_refuses_sizes_beyond_exact_int64():
    with pytest.raises(ValueError, match="exact int64"):
        hash_tensor((2**16, 2**15), 0)
