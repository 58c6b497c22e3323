"""Shared fixtures: a seeded generator so every test is reproducible, and a small real-digit data
set. The run's header names the numeric kernels in use, since results may differ in their last bits
from one CPU to another."""

import numpy as np
import pytest
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
from threadpoolctl import threadpool_info

from core.datasets import Dataset, Split, builtin_mnist


def numeric_kernels() -> str:
    """The BLAS library and kernel, and NumPy's SIMD dispatch targets this CPU runs."""
    blas = [
        f"{pool['internal_api']} {pool['version']} {pool.get('architecture', '?')}"
        for pool in threadpool_info()
        if pool["user_api"] == "blas"
    ]
    simd = [target for target in __cpu_dispatch__ if __cpu_features__.get(target)]
    return f"numeric kernels: BLAS {', '.join(blas) or 'none'}; NumPy SIMD {' '.join(simd) or 'baseline only'}"


def pytest_report_header() -> str:
    return numeric_kernels()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def small() -> Dataset:
    """600 training and 200 validation digits of the shipped real MNIST split."""
    d = builtin_mnist()
    return Dataset(
        "small",
        Split(d.train.x[:600], d.train.y[:600]),
        Split(d.val.x[:200], d.val.y[:200]),
        Split(d.test.x[:200], d.test.y[:200]),
        d.image_shape,
    )
