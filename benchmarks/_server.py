"""The real app on a free loopback port, as the load benchmark and the browser tests start it; and
the school's topology natively: N such servers behind Debian's haproxy with ``deploy/haproxy.cfg``.

Loopback only: the servers and haproxy listen on 127.0.0.1, and chromium gets flags that keep it
from phoning home (the machine has no network beyond package registries).
"""

import contextlib
import csv
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
MAX_REPLICAS = 8  # the server slots DLP_REPLICA_1..8 in deploy/haproxy.cfg
CHROMIUM = os.environ.get("DLP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(log_path: Path, script: str = "app.py", port: int | None = None):
    """``streamlit run <script>`` headless on a loopback port (a free one by default), logging to
    ``log_path``; returns (process, url) without waiting for it to answer."""
    port = port or free_port()
    import_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log_file:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", script,
                "--server.address=127.0.0.1", f"--server.port={port}",
                "--server.headless=true", "--browser.gatherUsageStats=false",
                "--server.fileWatcherType=none",
            ],
            cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": import_path},
        )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    """Wait until ``url``/_stcore/health answers 200; raise if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args[0]} did not start, see {log_path}")
        time.sleep(0.3)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 20 s; reaps the process."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_server(log_path: Path, script: str = "app.py") -> Iterator[tuple[str, int]]:
    """Start ``streamlit run <script>`` headless on a free loopback port; yield (url, pid); stop it.

    ``script`` is relative to the project root, which is on the import path whatever folder the
    script is in (a test's own small app imports ``ui`` as the pages do)."""
    server, url = start_server(log_path, script)
    try:
        wait_healthy(url, server, log_path)
        yield url, server.pid
    finally:
        stop(server)


def haproxy_binary() -> str | None:
    """Debian's haproxy (in /usr/sbin, which a non-root PATH may lack), or None."""
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


@dataclasses.dataclass
class Replicas:
    """N app servers behind haproxy, all on loopback; replica i is haproxy's server ``app{i+1}``."""

    url: str  # where the students connect: haproxy
    servers: list[subprocess.Popen]
    server_urls: list[str]
    haproxy: subprocess.Popen
    stats_socket: Path
    log_dir: Path

    def stats(self) -> dict[str, dict[str, str]]:
        """HAProxy's ``show stat`` rows of the replicas, by server name (``app1``…)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
        return {
            r["svname"]: r
            for r in rows
            if r["pxname"] == "replicas" and r["svname"] not in ("FRONTEND", "BACKEND")
        }

    def status(self) -> dict[str, str]:
        """``UP``, ``DOWN``… of each replica as haproxy's health checks see it."""
        return {name: row["status"] for name, row in self.stats().items()}

    def connections(self) -> dict[str, int]:
        """Open connections through haproxy to each replica: the websockets (sessions) it holds,
        plus any HTTP request in flight."""
        return {name: int(row["scur"]) for name, row in self.stats().items()}

    def wait_status(self, index: int, wanted: str, timeout: float = 30) -> float:
        """Seconds until haproxy sees replica ``index`` as ``wanted`` (``UP``/``DOWN``)."""
        start = time.monotonic()
        while (state := self.status()[f"app{index + 1}"]) != wanted:
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"app{index + 1} still {state} after {timeout} s")
            time.sleep(0.1)
        return time.monotonic() - start

    def kill(self, index: int) -> None:
        """Replica ``index`` dies (SIGKILL: a crash, no goodbye to its websockets)."""
        self.servers[index].send_signal(signal.SIGKILL)
        self.servers[index].wait()

    def replace(self, index: int) -> None:
        """A rolling update's step: stop replica ``index``, start a new one on its port, and wait
        until haproxy has it back."""
        stop(self.servers[index])
        port = int(self.server_urls[index].rsplit(":", 1)[1])
        log = self.log_dir / f"app{index + 1}.log"
        self.servers[index], url = start_server(log, port=port)
        wait_healthy(url, self.servers[index], log)
        self.wait_status(index, "UP")


@contextlib.contextmanager
def running_replicas(
    count: int, log_dir: Path, port: int | None = None, script: str = "app.py"
) -> Iterator[Replicas]:
    """Start ``count`` app servers and haproxy in front of them with ``deploy/haproxy.cfg`` (as
    ``deploy/compose.yaml`` runs it, with loopback addresses); yield them once haproxy sees every
    replica up; stop them all."""
    if not 1 <= count <= MAX_REPLICAS:
        raise ValueError(f"{count=} replicas: deploy/haproxy.cfg has {MAX_REPLICAS} slots")
    binary = haproxy_binary()
    if binary is None:
        raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
    servers, urls = [], []
    sockets = Path(tempfile.mkdtemp(prefix="dlp-haproxy-"))
    haproxy = None
    try:
        for i in range(count):
            server, url = start_server(log_dir / f"app{i + 1}.log", script)
            servers.append(server)
            urls.append(url)
        for i, (server, url) in enumerate(zip(servers, urls, strict=True)):
            wait_healthy(url, server, log_dir / f"app{i + 1}.log")
        port = port or free_port()
        env = {
            **os.environ,
            "DLP_LB_BIND": f"127.0.0.1:{port}",
            "DLP_LB_STATS_SOCKET": str(sockets / "admin.sock"),
            **{f"DLP_REPLICA_{i + 1}": url.removeprefix("http://") for i, url in enumerate(urls)},
        }
        with (log_dir / "haproxy.log").open("w") as log_file:
            haproxy = subprocess.Popen(
                [binary, "-db", "-f", str(HAPROXY_CFG)],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        replicas = Replicas(
            f"http://127.0.0.1:{port}", servers, urls, haproxy, sockets / "admin.sock", log_dir
        )
        wait_healthy(replicas.url, haproxy, log_dir / "haproxy.log", timeout=10)
        for i in range(count):
            replicas.wait_status(i, "UP")
        yield replicas
    finally:
        if haproxy is not None:
            stop(haproxy)
        for server in servers:
            stop(server)
        shutil.rmtree(sockets, ignore_errors=True)
