"""Smoke test of benchmarks/scale_out.py: one tiny class against 1 and against 2 replicas behind
haproxy, then the comparison and the paper projection from what was measured."""

import math

import pytest

from benchmarks import scale_out
from benchmarks._server import haproxy_binary


@pytest.mark.skipif(
    haproxy_binary() is None, reason="haproxy is not installed (.ci/run installs it)"
)
def test_two_sessions_on_one_and_on_two_replicas(capsys):
    one, two = scale_out.main(
        ["--replicas", "1,2", "--ramp", "2", "--seconds", "4", "--think", "0", "--stagger", "0"]
    )
    assert (one.replicas, one.held, two.replicas, two.held) == (1, 2, 2, 2)
    assert not one.saturated and not two.saturated  # every size met: held is a lower bound
    assert one.best.report["by_replica"] == {"app1": 2}
    assert two.best.report["by_replica"] == {"app1": 1, "app2": 1}
    for capacity in (one, two):
        assert capacity.best.report["http_ok"] >= 2  # each session's upload reached its replica
        assert capacity.cpu_per_session > 0 and math.isfinite(capacity.mb_per_session)
        assert capacity.best.idle_mb > 50 * capacity.replicas  # warmed replicas, imports done
    out = capsys.readouterr().out
    assert "2 replicas hold 1.00x the sessions of 1" in out
    assert "1000 concurrent students:" in out and "lower bound" in out


def test_the_projection_from_known_figures():
    # Two replicas held 180 sessions using 1.8 cores and 1,400 MB at peak, 500 MB when idle: 90 per
    # replica, 62 planned (70 %), 0.01 cores and 5 MB per session, 250 MB per idle replica.
    report = {"server_cores_used": 1.8, "rss_peak_mb": 1400.0}
    best = scale_out.Step(2, 180, report, idle_mb=500.0, load=(0.0, 0.0))
    lines = scale_out.projection([scale_out.Capacity(2, 180, best, saturated=True)])
    assert lines[0] == "held per replica at the goals: 90 sessions; planned at 70%: 62 per replica"
    assert lines[1] == "per session: 0.010 cores, 5.0 MB; a warmed idle replica: 250 MB"
    assert lines[2].startswith("1000 concurrent students: 17 replicas (1000 / 62) on 17 cores")
    assert "about 10 busy" in lines[2] and "9.3 GB (17 x (250 + 62 x 5.0 MB))" in lines[2]
    assert (
        lines[3] == "memory per replica at its goal: 700 MB (a Kubernetes limit with room: 1050 MB)"
    )
    assert len(lines) == 4  # saturated: no lower-bound caveat
