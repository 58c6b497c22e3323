"""download_mnist against a local HTTP server on 127.0.0.1 and file:// URLs; never the network."""

import errno
import gzip
import hashlib
import http.server
import os
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import core.download as download_module
from core.datasets import KnownFile
from core.download import ERROR_CODES, MIRRORS, Mirror, data_dir, download_mnist

A = gzip.compress(b"first fake file " * 5000)  # ~80 kB of content → several chunks
B = gzip.compress(b"second fake file " * 300)


def known(name: str, data: bytes, **kw) -> KnownFile:
    return KnownFile(name, len(data), hashlib.sha256(data).hexdigest(), **kw)


FILES = (known("a.gz", A), known("b.gz", B))


class Handler(http.server.BaseHTTPRequestHandler):
    """/good/<f> serves the file; /bad/<f> serves altered bytes; /cut/<f> closes mid-body."""

    def do_GET(self):
        _, kind, name = self.path.split("/")
        body = {"a.gz": A, "b.gz": B}.get(name)
        if kind == "missing" or body is None:
            self.send_error(404)
            return
        if kind == "bad":
            body = body[:-1] + bytes([body[-1] ^ 1])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if kind == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def mirror(server, kind, files=FILES):
    return Mirror(kind, f"{server}/{kind}/", files)


def leftovers(folder: Path) -> list[str]:
    """Anything at a final path or a temp file: must be empty after a failure."""
    return (
        sorted(p.name for p in (folder / "mnist").iterdir()) if (folder / "mnist").exists() else []
    )


def test_success_with_progress(server, tmp_path):
    calls = []
    res = download_mnist(
        tmp_path, sources=[mirror(server, "good")], progress=lambda d, t: calls.append((d, t))
    )
    assert res.ok and res.mirror == "good" and res.code is None
    assert (tmp_path / "mnist" / "a.gz").read_bytes() == A
    assert (tmp_path / "mnist" / "b.gz").read_bytes() == B
    assert leftovers(tmp_path) == ["a.gz", "b.gz"]  # no temp files
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == len(A) + len(B)
    assert {t for _, t in calls} == {len(A) + len(B)}


def test_already_cached_needs_no_network(server, tmp_path):
    assert download_mnist(tmp_path, sources=[mirror(server, "good")]).ok

    def no_network(*a, **k):
        raise AssertionError("must not connect")

    res = download_mnist(tmp_path, sources=[mirror(server, "good")], opener=no_network)
    assert res.ok and res.mirror == "cache"


def test_falls_back_to_second_mirror(server, tmp_path):
    res = download_mnist(tmp_path, sources=[mirror(server, "missing"), mirror(server, "good")])
    assert res.ok and res.mirror == "good"
    assert [(a.mirror, a.code) for a in res.attempts] == [("missing", "http"), ("good", None)]
    assert (tmp_path / "mnist" / "a.gz").read_bytes() == A


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    res = download_mnist(tmp_path, sources=[mirror(server, "bad")])
    assert not res.ok and res.code == "checksum" and res.paths == ()
    assert leftovers(tmp_path) == []


def test_interrupted_transfer_leaves_nothing(server, tmp_path):
    res = download_mnist(tmp_path, sources=[mirror(server, "cut")])
    assert not res.ok and res.code == "interrupted"
    assert leftovers(tmp_path) == []


def test_all_mirrors_fail_reports_most_telling(server, tmp_path):
    refused = Mirror("refused", "http://127.0.0.1:9/", FILES)  # discard port: nothing listens
    res = download_mnist(
        tmp_path, sources=[refused, mirror(server, "cut"), mirror(server, "bad")], timeout=5
    )
    assert [a.code for a in res.attempts] == ["offline", "interrupted", "checksum"]
    assert res.code == "interrupted"
    assert leftovers(tmp_path) == []


def test_offline(tmp_path):
    res = download_mnist(tmp_path, sources=[Mirror("x", "http://127.0.0.1:9/", FILES)], timeout=5)
    assert not res.ok and res.code == "offline"


def test_content_hash_accepts_regzipped_copy(tmp_path):
    # A mirror that re-gzipped the same content: the .gz hash differs, the content hash matches.
    content = b"same content " * 100
    regz = gzip.compress(content, mtime=12345)
    spec = KnownFile("c.gz", None, "0" * 64, content_sha256=hashlib.sha256(content).hexdigest())
    src = tmp_path / "src"
    src.mkdir()
    (src / "c.gz").write_bytes(regz)
    res = download_mnist(tmp_path / "cache", sources=[Mirror("file", src.as_uri() + "/", (spec,))])
    assert res.ok and (tmp_path / "cache" / "mnist" / "c.gz").read_bytes() == regz


def test_file_url_partial_mirror_then_resume(tmp_path):
    # First mirror has only a.gz; second has both: a.gz is kept, only b.gz is fetched again.
    one, both = tmp_path / "one", tmp_path / "both"
    for d, files in ((one, {"a.gz": A}), (both, {"a.gz": A, "b.gz": B})):
        d.mkdir()
        for name, data in files.items():
            (d / name).write_bytes(data)
    fetched = []

    def opener(url, timeout):
        fetched.append(url.rsplit("/", 2)[-2:])
        return urllib.request.urlopen(url, timeout=timeout)

    res = download_mnist(
        tmp_path / "cache",
        sources=[
            Mirror("one", one.as_uri() + "/", FILES),
            Mirror("both", both.as_uri() + "/", FILES),
        ],
        opener=opener,
    )
    assert res.ok and res.mirror == "both"
    assert res.attempts[0].code == "offline"  # file:// of a missing file is a URLError
    assert fetched == [["one", "a.gz"], ["one", "b.gz"], ["both", "b.gz"]]


def test_read_only_dir(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        probe = ro / "probe"
        try:
            probe.touch()  # root ignores permission bits; simulate the kernel's answer instead
            probe.unlink()

            def refuse(*a, **k):
                raise PermissionError(errno.EROFS, "Read-only file system")

            monkeypatch.setattr(download_module.tempfile, "TemporaryFile", refuse)
        except PermissionError:
            pass
        res = download_mnist(ro, sources=[Mirror("never", "http://127.0.0.1:9/", FILES)])
    finally:
        os.chmod(ro, 0o755)
    assert not res.ok and res.code == "read_only"
    assert res.attempts[0].mirror == ""  # refused before any mirror was tried


def test_disk_error_is_not_read_only(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = download_mnist(blocker, sources=[Mirror("never", "http://127.0.0.1:9/", FILES)])
    assert not res.ok and res.code == "disk"


def test_codes_are_listed():
    for code in ("offline", "checksum", "http", "disk", "read_only", "interrupted"):
        assert code in ERROR_CODES


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DLP_DATA_DIR", str(tmp_path / "x"))
    assert data_dir() == tmp_path / "x"
    monkeypatch.delenv("DLP_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert data_dir() == tmp_path / "c" / "deep-learning-playground"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_dir() == Path.home() / ".cache" / "deep-learning-playground"


def test_real_mirrors_carry_published_hashes():
    # Every real mirror file can be verified: each has a published sha256 of its bytes.
    for m in MIRRORS:
        assert m.base_url.startswith("https://") and m.base_url.endswith("/")
        assert all(f.sha256 and len(f.sha256) == 64 and f.size for f in m.files)


def test_a_stale_part_file_is_removed_when_a_download_starts_and_a_fresh_one_kept(server, tmp_path):
    # Issue #22 item 10: a server killed mid-download left .mnist.npz.*.part files for good.
    folder = tmp_path / "mnist"
    folder.mkdir()
    stale, fresh = folder / ".mnist.npz.abc123.part", folder / ".a.gz.def456.part"
    stale.write_bytes(b"half a download")
    fresh.write_bytes(b"another visitor's download in progress")
    old = time.time() - download_module.STALE_PART_SECONDS - 60
    os.utime(stale, (old, old))
    assert download_mnist(tmp_path, sources=[mirror(server, "good")]).ok
    assert not stale.exists() and fresh.exists()
