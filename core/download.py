"""Fetch full MNIST into a user cache: mirrors in order, streamed, verified, placed atomically.

``download_mnist`` never leaves a partial or unverified file at a final path: each file streams into
a hidden temp file in the same folder, its sha256 (of the published bytes, or of the decompressed
content where that is the known value) is checked, and only then is it ``os.replace``-d into place.
Files already present and verified are kept, so a retry resumes per file. Failures are *returned*
as a ``DownloadResult`` with ``ok=False`` and a ``code`` from ``ERROR_CODES``; the UI words them.
"""

import errno
import gzip
import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from http.client import HTTPException
from pathlib import Path
from typing import NamedTuple

from core.datasets import IDX_NAMES, MNIST_FILES, KnownFile

ERROR_CODES = (
    "offline",  # no connection (DNS, refused, unreachable)
    "timeout",  # the server stopped answering
    "http",  # an HTTP error status (404, 503 …)
    "interrupted",  # the body ended before Content-Length bytes
    "checksum",  # received bytes differ from the published sha256
    "disk",  # writing failed (disk full, bad path)
    "read_only",  # the cache folder is not writable
)
CHUNK = 1 << 16
# A .part older than this is left by a download that died (a killed server): removed at the next
# download's start. Younger ones may belong to another visitor's download in progress.
STALE_PART_SECONDS = 15 * 60


class Mirror(NamedTuple):
    name: str
    base_url: str  # ends with "/"; each file is fetched from base_url + file.name
    files: tuple[KnownFile, ...]


class Attempt(NamedTuple):
    mirror: str
    code: str | None  # None: this mirror delivered every file
    detail: str


class DownloadResult(NamedTuple):
    ok: bool
    mirror: str | None  # the mirror that completed the set ("cache" if nothing was needed)
    paths: tuple[Path, ...]  # final paths of the verified files (empty when not ok)
    code: str | None  # one of ERROR_CODES when not ok
    attempts: tuple[Attempt, ...]


MIRRORS: tuple[Mirror, ...] = (
    Mirror(
        "keras",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        (MNIST_FILES["mnist.npz"],),
    ),
    Mirror(
        "torchvision",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        tuple(MNIST_FILES[n] for n in IDX_NAMES),
    ),
    Mirror(
        "cvdf",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        tuple(MNIST_FILES[n] for n in IDX_NAMES),
    ),
)


def data_dir() -> Path:
    """``$DLP_DATA_DIR``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``)/deep-learning-playground."""
    if os.environ.get("DLP_DATA_DIR"):
        return Path(os.environ["DLP_DATA_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "deep-learning-playground"


def _verified(path: Path, known: KnownFile) -> bool:
    """Stream-hash ``path`` (and its gunzipped content when needed) against ``known``."""
    if not path.is_file():
        return False
    if known.sha256 is not None:
        h = hashlib.sha256()
        with path.open("rb") as f:
            while block := f.read(CHUNK * 16):
                h.update(block)
        if h.hexdigest() == known.sha256:
            return True
    if known.content_sha256 is not None:
        # Mirrors often re-gzip the same content; the decompressed hash still identifies it.
        h = hashlib.sha256()
        try:
            with gzip.open(path, "rb") as f:
                while block := f.read(CHUNK * 16):
                    h.update(block)
        except (OSError, EOFError, zlib.error):
            return False
        return h.hexdigest() == known.content_sha256
    return False


def remove_stale_parts(folder: Path, now: float | None = None) -> list[Path]:
    """Delete ``.*.part`` files in ``folder`` older than STALE_PART_SECONDS; the ones removed."""
    now = time.time() if now is None else now
    removed = []
    for part in folder.glob(".*.part"):
        try:
            if now - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
                removed.append(part)
        except OSError:  # gone meanwhile, or not ours to delete: the download does not need it
            continue
    return removed


def _disk_code(e: OSError) -> str:
    return "read_only" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else "disk"


class _Progress(NamedTuple):
    """Turns one file's (done, total) into the whole mirror's (bytes_done, bytes_total)."""

    callback: Callable[[int, int | None], None] | None
    offset: int
    grand_total: int | None

    def __call__(self, done: int, total: int | None) -> None:
        if self.callback is None:
            return
        if self.grand_total is not None:
            self.callback(self.offset + done, self.grand_total)
        else:
            self.callback(self.offset + done, None if total is None else self.offset + total)


class _Failed(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(code, detail)
        self.code, self.detail = code, detail


def _fetch(
    url: str,
    target: Path,
    known: KnownFile,
    opener: Callable,
    timeout: float,
    on_bytes: Callable[[int, int | None], None],
) -> None:
    """Stream ``url`` into a temp file beside ``target``, verify, then replace ``target``."""
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
    except OSError as e:
        raise _Failed(_disk_code(e), str(e)) from None
    tmp = Path(tmp_name)
    try:
        try:
            response = opener(url, timeout=timeout)
        except urllib.error.HTTPError as e:
            raise _Failed("http", f"{url}: HTTP {e.code}") from None
        except urllib.error.URLError as e:
            reason = e.reason
            code = "timeout" if isinstance(reason, TimeoutError) else "offline"
            raise _Failed(code, f"{url}: {reason}") from None
        except TimeoutError as e:
            raise _Failed("timeout", f"{url}: {e}") from None
        except (OSError, HTTPException) as e:
            raise _Failed("offline", f"{url}: {e}") from None
        with response, os.fdopen(fd, "wb") as out:
            fd = None  # now owned by ``out``
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else known.size
            done = 0
            on_bytes(done, total)
            while True:
                try:
                    block = response.read(CHUNK)
                except TimeoutError as e:
                    raise _Failed("timeout", f"{url}: {e}") from None
                except (OSError, HTTPException) as e:  # IncompleteRead, connection reset
                    raise _Failed(
                        "interrupted", f"{url}: {type(e).__name__} after {done}"
                    ) from None
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as e:
                    raise _Failed(_disk_code(e), str(e)) from None
                done += len(block)
                on_bytes(done, total)
            try:
                out.flush()
            except OSError as e:
                raise _Failed(_disk_code(e), str(e)) from None
        if length and length.isdigit() and done != int(length):
            raise _Failed("interrupted", f"{url}: {done} of {length} bytes")
        if not _verified(tmp, known):
            raise _Failed("checksum", f"{url}: sha256 differs from the published value")
        try:
            os.replace(tmp, target)
        except OSError as e:
            raise _Failed(_disk_code(e), str(e)) from None
    finally:
        if fd is not None:
            os.close(fd)
        tmp.unlink(missing_ok=True)


def download_mnist(
    data_dir: os.PathLike | str,
    *,
    progress: Callable[[int, int | None], None] | None = None,
    sources: Sequence[Mirror] = MIRRORS,
    opener: Callable = urllib.request.urlopen,
    timeout: float = 30.0,
) -> DownloadResult:
    """Fill ``data_dir/mnist`` from the first mirror that delivers verified files."""
    folder = Path(data_dir) / "mnist"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Probe writability first: a read-only cache is reported as such, not as a network error.
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        code = _disk_code(e)
        return DownloadResult(False, None, (), code, (Attempt("", code, str(e)),))
    remove_stale_parts(folder)
    for m in sources:
        if all(_verified(folder / f.name, f) for f in m.files):
            paths = tuple(folder / f.name for f in m.files)
            return DownloadResult(True, "cache", paths, None, ())
    attempts: list[Attempt] = []
    for m in sources:
        todo = [f for f in m.files if not _verified(folder / f.name, f)]
        sizes = [f.size for f in todo]
        grand_total = sum(sizes) if None not in sizes else None
        offset = 0
        try:
            for f in todo:
                report = _Progress(progress, offset, grand_total)
                _fetch(m.base_url + f.name, folder / f.name, f, opener, timeout, report)
                offset += (folder / f.name).stat().st_size
        except _Failed as e:
            attempts.append(Attempt(m.name, e.code, e.detail))
            if e.code in ("read_only", "disk"):
                break  # another mirror cannot fix the local disk
            continue
        attempts.append(Attempt(m.name, None, ""))
        paths = tuple(folder / f.name for f in m.files)
        return DownloadResult(True, m.name, paths, None, tuple(attempts))
    codes = [a.code for a in attempts]
    # Report the most telling failure: anything beats "offline", which may just be the first mirror.
    code = next((c for c in codes if c != "offline"), "offline")
    return DownloadResult(False, None, (), code, tuple(attempts))
