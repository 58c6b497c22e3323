"""Copying and comparing optimizer states (NamedTuples of arrays, numbers and Nones) in tests."""

import numpy as np


def copy_state(state):
    """A copy with every array of ``state`` copied (one array per buffer, as the trainer owns)."""
    return type(state)(*(np.copy(x) if isinstance(x, np.ndarray) else x for x in state))


def assert_states_equal(a, b):
    """Same state type, every field equal bit for bit, None where the other is None."""
    assert type(a) is type(b)
    for x, y in zip(a, b, strict=True):
        if x is None or y is None:
            assert x is None and y is None
        else:
            np.testing.assert_array_equal(x, y)
