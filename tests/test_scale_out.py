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
