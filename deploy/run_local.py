"""The school's topology on this machine, without containers: N ``streamlit run app.py`` processes on
loopback ports and Debian's haproxy in front of them with ``deploy/haproxy.cfg``, the file
``deploy/compose.yaml`` runs, given loopback addresses instead of container names.

    python deploy/run_local.py                       # 2 replicas at http://127.0.0.1:8080
    python deploy/run_local.py --replicas 3 --port 8090 --hours 1

Bounded: at most 8 replicas (the config's slots) for at most 12 hours, on 127.0.0.1 only. Ctrl-C or
SIGTERM stops haproxy and every replica; so does the end of the time. While it runs it prints each
replica's health-check state and open connections (its sessions) once a minute. For a class from
other machines, use compose or Kubernetes: this script never listens beyond loopback.
"""

import argparse
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import MAX_REPLICAS, running_replicas  # noqa: E402

MAX_HOURS = 12.0


def main(argv: list[str] | None = None) -> None:
    """Command line: start, report once a minute, stop at the end or on a signal."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help=f"1 to {MAX_REPLICAS}")
    parser.add_argument("--port", type=int, default=8080, help="haproxy's port on 127.0.0.1")
    parser.add_argument("--hours", type=float, default=4.0, help=f"stop after this (≤ {MAX_HOURS})")
    parser.add_argument("--logs", type=Path, default=ROOT / "screenshots" / "replicas")
    args = parser.parse_args(argv)
    if not 1 <= args.replicas <= MAX_REPLICAS:
        parser.error(f"--replicas: 1 to {MAX_REPLICAS} (deploy/haproxy.cfg's slots)")
    if not 0 < args.hours <= MAX_HOURS:
        parser.error(f"--hours: more than 0, at most {MAX_HOURS}")
    # SIGTERM unwinds like Ctrl-C, so the context manager below stops every process it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    until = time.monotonic() + args.hours * 3600
    try:
        with running_replicas(args.replicas, args.logs, port=args.port) as replicas:
            print(f"{args.replicas} replicas behind haproxy: {replicas.url}  (logs: {args.logs})")
            for name, url in zip(replicas.stats(), replicas.server_urls, strict=True):
                print(f"  {name}: {url}")
            while time.monotonic() < until:
                time.sleep(min(60.0, max(0.0, until - time.monotonic())))
                print(time.strftime("%H:%M:%S"), replicas.status(), replicas.connections())
            print(f"stopping after {args.hours:g} hours")
    except KeyboardInterrupt:
        print("stopped")


if __name__ == "__main__":
    main()
