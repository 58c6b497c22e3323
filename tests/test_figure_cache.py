"""The process-wide figure cache: exact keys, shared objects, bounded size, unpicklable fallbacks."""

import threading
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from ui.figure_cache import FigureCache, shared_figure
from ui.plots.activations import Series, curves_with_derivatives
from ui.theme import ChartText, plot_style


class Counted:
    """A builder that counts its calls and returns a fresh object each time."""

    def __init__(self) -> None:
        self.calls = 0
        self.__module__, self.__qualname__ = __name__, "Counted"

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return {"args": args, "kwargs": kwargs, "call": self.calls}


class Pair(NamedTuple):
    name: str
    values: np.ndarray


def test_equal_arguments_get_the_same_object_and_build_once():
    cache, builder = FigureCache(), Counted()
    a = cache.get(builder, (np.arange(5.0), Pair("x", np.ones(3))), {"title": "t"})
    b = cache.get(builder, (np.arange(5.0), Pair("x", np.ones(3))), {"title": "t"})
    assert a is b
    assert builder.calls == 1
    assert (cache.hits, cache.misses) == (1, 1)


def test_any_difference_in_content_builds_again():
    cache, builder = FigureCache(), Counted()
    base = np.linspace(0, 1, 1000)
    nudged = base.copy()
    nudged[617] = np.nextafter(nudged[617], 2.0)  # one ulp in one element
    variants = [
        ((base,), {"title": "t"}),
        ((nudged,), {"title": "t"}),
        ((base.astype(np.float32),), {"title": "t"}),
        ((base.reshape(10, 100),), {"title": "t"}),
        ((base,), {"title": "T"}),
        ((base,), {"title": "t", "log_y": True}),
    ]
    results = [cache.get(builder, args, kwargs) for args, kwargs in variants]
    assert builder.calls == len(variants)
    assert len({id(r) for r in results}) == len(variants)


def test_keyword_order_does_not_matter():
    cache, builder = FigureCache(), Counted()
    cache.get(builder, (), {"a": 1, "b": 2})
    cache.get(builder, (), {"b": 2, "a": 1})
    assert builder.calls == 1


def test_builders_with_equal_arguments_do_not_share_entries():
    cache = FigureCache()
    first, second = Counted(), Counted()
    second.__qualname__ = "Other"
    assert cache.get(first, (1,), {})["call"] == 1
    assert cache.get(second, (1,), {})["call"] == 1
    assert (first.calls, second.calls) == (1, 1)


def test_unpicklable_arguments_are_built_every_time():
    cache, builder = FigureCache(), Counted()
    for _ in range(3):
        cache.get(builder, (lambda v: v,), {})
    assert builder.calls == 3
    assert len(cache) == 0


def test_least_recently_used_goes_first_when_full():
    cache, builder = FigureCache(max_entries=2), Counted()
    cache.get(builder, (1,), {})
    cache.get(builder, (2,), {})
    cache.get(builder, (1,), {})  # 1 is now the most recent
    cache.get(builder, (3,), {})  # evicts 2
    assert len(cache) == 2
    calls = builder.calls
    cache.get(builder, (1,), {})
    assert builder.calls == calls
    cache.get(builder, (2,), {})
    assert builder.calls == calls + 1


def test_size_bound_counts_argument_bytes_and_skips_oversized_figures():
    cache, builder = FigureCache(max_bytes=3_000_000), Counted()
    for i in range(4):
        cache.get(builder, (np.full(100_000, i, dtype=np.float64),), {})  # ~0.8 MB each
    assert len(cache) == 3
    cache.get(builder, (np.zeros(500_000),), {})  # 4 MB: larger than the whole budget
    assert len(cache) == 3
    calls = builder.calls
    cache.get(builder, (np.zeros(500_000),), {})
    assert builder.calls == calls + 1


def test_concurrent_visitors_get_equal_figures():
    cache, builder = FigureCache(), Counted()
    results, barrier = [], threading.Barrier(8)

    def visitor():
        barrier.wait()
        results.append(cache.get(builder, (np.arange(100.0),), {}))

    threads = [threading.Thread(target=visitor) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(r["args"][0].tolist() == list(range(100)) for r in results)
    assert len(cache) == 1
    assert builder.calls <= 8


def test_a_real_builder_through_the_shared_cache():
    z = np.linspace(-3, 3, 61)
    series = [Series("ReLU", np.maximum(z, 0), (z > 0).astype(float), [], (0.5, 1.0))]
    kwargs = dict(
        text=ChartText("t", "z", "f"),
        derivative_name="d",
        saturation_name="s",
        style=plot_style(),
    )
    first = shared_figure(curves_with_derivatives, z, series, 0.5, **kwargs)
    again = shared_figure(curves_with_derivatives, z.copy(), list(series), 0.5, **kwargs)
    assert isinstance(first, go.Figure)
    assert again is first
    fresh = curves_with_derivatives(z, series, 0.5, **kwargs)
    assert fresh.to_plotly_json() == first.to_plotly_json()


def test_a_cached_figure_hands_out_the_dict_streamlit_draws_made_once():
    cache = FigureCache()
    fig = cache.get(go.Figure, (), {"data": [go.Scatter(x=np.arange(3.0), y=[1.0, 4.0, 9.0])]})
    expected = go.Figure(data=[go.Scatter(x=np.arange(3.0), y=[1.0, 4.0, 9.0])]).to_dict()
    assert fig.to_dict() is fig.to_dict()
    assert fig.to_dict() == expected


def test_a_plotly_figure_counts_by_the_json_streamlit_sends():
    cache = FigureCache(max_bytes=100_000)
    small = {"data": [go.Scatter(y=np.arange(100.0))]}
    big = {"data": [go.Scatter(y=np.arange(50_000.0))]}  # 400 kB of base64 float64
    cache.get(go.Figure, (), small)
    assert len(cache) == 1
    fig = cache.get(go.Figure, (), big)
    assert len(cache) == 1
    assert cache.get(go.Figure, (), big) is not fig
