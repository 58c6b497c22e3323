"""Built figures shared by every visitor of the process: a class asks for the same charts.

Building a plotly figure validates every property in Python (40–60 ms for a typical chart here),
while drawing an already built one costs Streamlit a copy and a JSON dump (~5 ms). When a teacher
sends one link, thirty students ask for the same figures (same settings, language and display
mode), so ``shared_figure`` builds each distinct figure once and hands the same object to everyone.

A cached plotly figure also keeps the dict Streamlit sends (``to_dict``: a deep copy of every
property and a base64 copy of every array, 5–50 ms for a figure with animation frames), made once
when the figure is cached instead of on every draw.

The key is a digest of the pickled builder arguments, so arrays are compared by content, exactly.
Arguments that cannot be pickled are not cached (the figure is built every time). Entries are
evicted least recently used first, bounded by count and by size: a plotly figure is counted by the
length of the JSON Streamlit sends for it (in memory, figure and dict together hold about six
times that: 1.1 MB for the activation curves' 170 kB), anything else by its pickled arguments.

A figure from the cache is shared: callers must only draw it, never change it.
"""

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

MAX_ENTRIES = 128
MAX_BYTES = 24 * 1024 * 1024  # of drawn JSON: about 150 MB held at most


class FigureCache:
    """A thread-safe LRU of built figures keyed by builder and argument content."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, builder: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        """``builder(*args, **kwargs)``, built once per distinct argument content."""
        try:
            payload = pickle.dumps(
                (builder.__module__, builder.__qualname__, args, sorted(kwargs.items())),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        except (pickle.PicklingError, TypeError, AttributeError):
            return builder(*args, **kwargs)
        key = hashlib.blake2b(payload, digest_size=20).digest()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[0]
            self.misses += 1
        # Built outside the lock: two visitors may build the same figure at once, and both
        # results are equal; holding the lock would queue every other visitor's figures behind it.
        figure = builder(*args, **kwargs)
        size = _keep_drawn_dict(figure) or len(payload)
        if size > self.max_bytes:
            return figure
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (figure, size)
                self._bytes += size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted
        return figure


def _keep_drawn_dict(figure: Any) -> int | None:
    """Make a plotly figure's ``to_dict`` return the dict made now; the length of its JSON."""
    if not isinstance(figure, go.Figure):
        return None
    drawn = figure.to_dict()
    # An instance attribute shadows the method; plotly lets names it already has be set.
    figure.to_dict = lambda: drawn
    return len(pio.to_json(drawn, validate=False))


FIGURES = FigureCache()


def shared_figure(builder: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """The figure ``builder(*args, **kwargs)``, shared with every visitor who asks for the same.

    Draw it as it is; changing it would change it for everyone.
    """
    return FIGURES.get(builder, args, kwargs)
