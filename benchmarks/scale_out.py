"""Scale-out, in one command: how many sessions 1 replica and 2 replicas behind haproxy hold with
p95 click -> update under 2 s, how the sessions spread over the replicas, the CPU and memory one
session costs, and from those a paper projection for a school of 1,000 concurrent students.

    python benchmarks/scale_out.py                                   # 1 and 2 replicas, ramp to 180
    python benchmarks/scale_out.py --replicas 1,2 --ramp 30,60,90 --seconds 30

Each size of each ramp is one class (``benchmarks/class_load.py``'s light sessions, by default the
teacher's warm server, 5 s between clicks, arrivals over 10 s) against a fresh topology: N
``streamlit run app.py`` on loopback behind Debian's haproxy with ``deploy/haproxy.cfg``
(``benchmarks._server.running_replicas``), every replica warmed directly before the class comes.
A ramp stops at its first size that misses the goals (0 errors, every session held, p95 < 2 s).
The load harness runs on the same machine as the replicas and takes CPU from them; the report
names the machine's load average before and after, so a figure from a busy machine is read as one.

Bounded: at most 4 replicas, 200 sessions and 600 s per class; loopback only; all stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import class_load  # noqa: E402
from benchmarks._server import running_replicas  # noqa: E402

STUDENTS = 1000  # the school of the projection
HEADROOM = 0.7  # plan replicas to run at 70 % of what they held at the goal
MAX_REPLICAS = 4


@dataclasses.dataclass
class Step:
    """One class of ``sessions`` against ``replicas`` replicas."""

    replicas: int
    sessions: int
    report: dict
    idle_mb: float  # the warmed replicas' RSS together before the class came
    load: tuple[float, float]  # the machine's 1-minute load average before and after

    @property
    def met(self) -> bool:
        """class_load's goals, the memory one per replica (each is its own server)."""
        per_replica = self.report["rss_peak_mb"] / self.replicas
        return class_load.meets_goals({**self.report, "rss_peak_mb": per_replica})


@dataclasses.dataclass
class Capacity:
    """The largest class one topology held at the goals, and what it cost."""

    replicas: int
    held: int  # sessions at the goals (0: not even the smallest size)
    best: Step | None
    saturated: bool  # a larger size missed the goals; else ``held`` is only a lower bound

    @property
    def cpu_per_session(self) -> float:
        """Server cores one session used on average (all replicas' CPU / sessions)."""
        return self.best.report["server_cores_used"] / self.held if self.best else math.nan

    @property
    def mb_per_session(self) -> float:
        """Resident memory one session adds: (peak RSS - warmed idle RSS) / sessions."""
        return (
            (self.best.report["rss_peak_mb"] - self.best.idle_mb) / self.held
            if self.best
            else math.nan
        )


def rss_mb(pids: list[int]) -> float:
    """The processes' resident memory together, now."""
    return sum(class_load.status_kb(pid, "VmRSS") for pid in pids) / 1024


async def warm_up(urls: list[str], pages: tuple[str, ...]) -> list[class_load.SessionResult]:
    """The teacher's check of every page, on every replica directly, all at once."""
    warmed = await asyncio.gather(*(class_load.warm_up(url, pages) for url in urls))
    return [result for results in warmed for result in results]


def one_class(replicas: int, sessions: int, args) -> Step:
    """A fresh topology, each replica warmed directly, then one class through haproxy."""
    load_before = os.getloadavg()[0]
    with running_replicas(replicas, ROOT / "screenshots" / "scale_out") as topology:
        pages = tuple(args.pages.split(",")) if args.pages else class_load.LOAD_PAGES
        warm = class_load.run_in_own_loop(warm_up(topology.server_urls, pages))
        failed = [e for r in warm for e in r.errors]
        if failed:
            raise RuntimeError(f"warm-up failed: {failed}")
        pids = [server.pid for server in topology.servers]
        idle = rss_mb(pids)
        report = class_load.measure(topology.url, pids, sessions, args)
    return Step(replicas, sessions, report, idle, (load_before, os.getloadavg()[0]))


def ramp(replicas: int, sizes: list[int], args) -> tuple[Capacity, list[Step]]:
    """Sizes in order until one misses the goals; the largest that met them."""
    steps, best = [], None
    for size in sizes:
        print(f"== {replicas} replica(s), {size} sessions")
        step = one_class(replicas, size, args)
        class_load.print_report(step.report)
        print(
            f"   goals with RSS per replica ({step.report['rss_peak_mb'] / replicas:.0f} MB): "
            f"{'met' if step.met else 'MISSED'}; machine load average {step.load[0]:.2f} before, "
            f"{step.load[1]:.2f} after"
        )
        steps.append(step)
        if not step.met:
            break
        best = step
    return Capacity(replicas, best.sessions if best else 0, best, not steps[-1].met), steps


def projection(capacities: list[Capacity]) -> list[str]:
    """The paper projection for STUDENTS concurrent students, from the measured figures."""
    measured = [c for c in capacities if c.held]
    if not measured:
        return ["no topology met the goals at the smallest size: nothing to project from"]
    caveat = (
        []
        if all(c.saturated for c in measured)
        else [
            "(a ramp met the goals at every size: its sessions per replica are a lower bound, so the "
            "replicas below are an upper bound; ramp further for the real figure)"
        ]
    )
    # Per replica: the smallest of the measured topologies (the conservative one).
    per_replica = min(c.held / c.replicas for c in measured)
    cpu = max(c.cpu_per_session for c in measured)
    mb = max(c.mb_per_session for c in measured)
    idle = max(c.best.idle_mb / c.replicas for c in measured)
    planned = max(1, math.floor(per_replica * HEADROOM))
    replicas = math.ceil(STUDENTS / planned)
    busy = math.ceil(STUDENTS * cpu)
    memory_gb = replicas * (idle + planned * mb) / 1024
    limit_mb = idle + per_replica * mb
    return [
        f"held per replica at the goals: {per_replica:.0f} sessions; planned at {HEADROOM:.0%}: "
        f"{planned} per replica",
        f"per session: {cpu:.3f} cores, {mb:.1f} MB; a warmed idle replica: {idle:.0f} MB",
        f"{STUDENTS} concurrent students: {replicas} replicas ({STUDENTS} / {planned}) on "
        f"{replicas} cores (a replica is one Python process: one core, as the Deployment "
        f"requests; the sessions themselves keep about {busy} busy, {STUDENTS} x {cpu:.3f}), "
        f"{memory_gb:.1f} GB ({replicas} x ({idle:.0f} + {planned} x {mb:.1f} MB)), "
        f"plus the load balancer",
        f"memory per replica at its goal: {limit_mb:.0f} MB (a Kubernetes limit with room: "
        f"{1.5 * limit_mb:.0f} MB)",
        *caveat,
    ]


def main(argv: list[str] | None = None) -> list[Capacity]:
    """Command line: ramp each replica count, then the comparison and the projection."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    class_load.add_class_options(parser)
    parser.add_argument("--replicas", default="1,2", help="comma-separated replica counts")
    parser.set_defaults(ramp="30,60,90,120,150,180", browsers=0, warm=True, think=5.0, stagger=10.0)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.replicas.split(",")]
    sizes = sorted(int(s) for s in args.ramp.split(","))
    if max(counts) > MAX_REPLICAS or max(sizes) > 200 or args.seconds > 600:
        parser.error(f"bounded: at most {MAX_REPLICAS} replicas, 200 sessions and 600 seconds")
    args.warm = False  # each replica is warmed directly (through haproxy, a page may miss one)
    print(f"cores: {os.cpu_count()}; load average now: {os.getloadavg()}")
    capacities = [ramp(count, sizes, args)[0] for count in counts]
    print("\n== scale-out")
    for c in capacities:
        spread = c.best.report["by_replica"] if c.best else {}
        print(
            f"{c.replicas} replica(s): {'' if c.saturated else '≥ '}{c.held} sessions at the goals "
            f"(p95 < 2 s); per replica {spread}; "
            f"per session {c.cpu_per_session:.3f} cores, {c.mb_per_session:.1f} MB"
        )
    if len(capacities) > 1 and capacities[0].held:
        ratio = capacities[-1].held / capacities[0].held
        print(
            f"{capacities[-1].replicas} replicas hold {ratio:.2f}x the sessions of {capacities[0].replicas}"
        )
    print(f"\n== paper projection for {STUDENTS} concurrent students")
    for line in projection(capacities):
        print(line)
    return capacities


if __name__ == "__main__":
    main()
