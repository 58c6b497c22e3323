"""Smoke test of benchmarks/class_load.py: two light sessions against a real server for a few seconds."""

import math

import pytest

from benchmarks import class_load


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One short run of two light websocket sessions (no chromium) against a server warmed up by
    one session per page."""
    log = tmp_path_factory.mktemp("class_load") / "server.log"
    with class_load.running_server(log) as (url, pid):
        server = ["--url", url, "--pid", str(pid), "--browsers", "0", "--warm"]
        (only,) = class_load.main([*server, "--sessions", "2", "--seconds", "6"])
    return only


def test_report_has_every_field(report):
    expected = {
        "sessions", "by_page", "held", "seconds", "errors", "error_samples", "clicks", "click_p50_s",
        "click_p95_s", "fragment_gap_p50_s", "fragment_gap_p95_s", "training_sessions",
        "steps_per_s", "steps_per_s_browser", "steps_per_s_median", "steps_per_s_total",
        "server_cores_used", "rss_peak_mb", "blas", "cores", "pages", "by_replica", "http_ok",
    }  # fmt: skip
    assert expected <= set(report)


def test_two_sessions_held_without_errors(report):
    assert report["sessions"] == 2
    assert report["held"] == 2
    assert report["errors"] == 0, report["error_samples"]


def test_each_session_uploaded_a_file(report):
    # Uploads go by HTTP to the process holding the session, named in a URL the session gave.
    assert report["http_ok"] == 2
    assert report["by_replica"] == {}  # no load balancer, no stickiness cookie


def test_clicks_were_timed_and_memory_read(report):
    # Session 0 opens the first load page and changes a widget there; session 1 the second.
    assert report["clicks"] >= 2
    assert 0 < report["click_p50_s"] <= report["click_p95_s"]
    assert math.isfinite(report["rss_peak_mb"]) and report["rss_peak_mb"] > 50
    assert report["cores"] >= 1 and report["blas"]
    assert report["server_cores_used"] > 0


def test_page_list_follows_navigation():
    from ui.navigation import PAGES

    urls = {e.url_path for e in PAGES}
    assert set(class_load.LOAD_PAGES) == urls & {"optimizers", "schedules", "activations", "mnist"}
    assert class_load.MNIST == ("mnist" in urls)


def test_every_session_asks_for_english_and_the_settings_of_query():
    assert class_load.url_query() == "lang=en"
    assert class_load.url_query("?mn_arch=cnn") == "lang=en&mn_arch=cnn"
    session = class_load.LightSession("http://127.0.0.1:1", "mnist", None, "mn_arch=cnn&mn_bn=1")
    assert session.query == "lang=en&mn_arch=cnn&mn_bn=1"


def test_a_cold_server_takes_a_dozen_first_visitors_at_once(tmp_path):
    # Regression: with a dozen sessions arriving together on a server that has imported nothing
    # yet, some saw "partially initialized module 'pandas'" from plotly (app.py now imports pandas
    # before any page runs).
    with class_load.running_server(tmp_path / "server.log") as (url, pid):
        server = ["--url", url, "--pid", str(pid), "--browsers", "0"]
        (report,) = class_load.main([*server, "--sessions", "12", "--seconds", "5"])
    assert report["held"] == 12
    assert report["errors"] == 0, report["error_samples"]


def test_light_trainers_follow_a_full_rerun_the_live_panel_asks_for(tmp_path):
    # Regression: a second trainer joining makes each live panel call st.rerun() to re-plan its
    # update rate. The light client sent no page script hash, so that full rerun showed home, the
    # live timer stopped and the harness counted a timeout on the MNIST page.
    with class_load.running_server(tmp_path / "server.log") as (url, pid):
        server = ["--url", url, "--pid", str(pid), "--browsers", "0", "--pages", "mnist"]
        (report,) = class_load.main([*server, "--sessions", "2", "--seconds", "12"])
    assert report["errors"] == 0, report["error_samples"]
    assert report["training_sessions"] == 2
    assert all(rate > 0 for rate in report["steps_per_s"])
    assert report["http_ok"] == 4  # each an upload and a download of its model file
