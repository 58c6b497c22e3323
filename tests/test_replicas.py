"""The school's topology run natively: app replicas behind Debian's haproxy with
``deploy/haproxy.cfg`` (``benchmarks._server.running_replicas``), driven by the load benchmark's
light clients, which speak Streamlit's websocket protocol and keep cookies as a browser does.

A session's websocket, its uploads and its model file must reach one replica; a replica that dies
is taken out and its students reconnect to a new session on a live one, told so, with their
settings from the URL, while the other replicas' students see nothing; a rolling update likewise.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks import class_load
from benchmarks._server import ROOT, free_port, haproxy_binary, running_replicas, running_server
from benchmarks.class_load import LightSession, SessionResult
from ui.i18n import translate
from ui.shell import resumed_session_id

needs_haproxy = pytest.mark.skipif(
    haproxy_binary() is None, reason="haproxy is not installed (.ci/run installs it)"
)
# deploy/haproxy.cfg: checks every 2 s, 2 failures take a replica out.
TAKEN_OUT_WITHIN_S = 2 * 2 + 2  # + one check's worth of slack on a busy machine
LOG_SCALE = "sch_logy"  # the schedules page's log-scale toggle, in the URL as sch_logy=1
# MNIST with batch norm, in English (the light client reads the step counter by its English label).
BATCH_NORM_LINK = "lang=en&mn_bn=1"


def run(coroutine):
    return class_load.run_in_own_loop(coroutine)


def toggle_value(session: LightSession, key: str) -> bool:
    """The value the page gave a toggle in its last run (its proto default follows the value)."""
    (proto,) = [proto for wid, (_, proto) in session.widgets.items() if wid.endswith(key)]
    return proto.default


async def hold(
    url: str, query: str = "lang=en", page: str = "schedules", resume: str = "", cookies=None
):
    """A light session on ``page``, its websocket left open; (session, context)."""
    session = LightSession(url, page, SessionResult("light", page))
    session.query, session.cookies = query, dict(cookies or {})
    context = session.connect(resume=resume)
    await context.__aenter__()
    await session.run_and_wait()
    return session, context


def test_the_session_a_reconnecting_browser_asks_for():
    assert resumed_session_id("streamlit, 2|ab|cd|12, 1234-abcd") == "1234-abcd"
    assert resumed_session_id("streamlit, 2|ab|cd|12") is None
    assert resumed_session_id("streamlit, , ") is None
    assert resumed_session_id(None) is None


def test_a_browser_reconnecting_to_a_new_process_is_told_its_run_restarted(tmp_path):
    # As after a replica died: the browser asks to resume a session this process never had.
    async def scenario(url):
        fresh, fresh_ctx = await hold(url, "lang=zh")
        moved, moved_ctx = await hold(url, f"lang=zh&{LOG_SCALE}=1", resume="gone-session-id")
        first_run = list(moved.notices)
        await moved.run_and_wait()  # any later run: said once is enough
        for context in (fresh_ctx, moved_ctx):
            await context.__aexit__(None, None, None)
        return fresh, moved, first_run

    with running_server(tmp_path / "server.log") as (url, _pid):
        fresh, moved, first_run = run(scenario(url))
    notice = translate("zh", "app.restarted")
    assert notice not in fresh.notices
    assert first_run.count(notice) == 1
    assert moved.notices.count(notice) == 1
    assert toggle_value(moved, LOG_SCALE) is True  # the settings came back from the URL
    assert fresh.result.errors == moved.result.errors == []


@needs_haproxy
def test_every_request_of_a_session_reaches_its_replica_under_load(tmp_path):
    # Trainers and clickers at once; each uploads a file, the trainers download their model.
    with running_replicas(2, tmp_path) as replicas:
        load = [
            "--browsers",
            "0",
            "--pages",
            "mnist,schedules",
            "--sessions",
            "6",
            "--seconds",
            "8",
        ]
        (report,) = class_load.main(["--url", replicas.url, *load])
    assert report["errors"] == 0, report["error_samples"]
    assert report["held"] == 6
    assert report["http_ok"] == 6 + 3  # six uploads, three model files
    # leastconn spreads the class: neither replica holds more than two thirds.
    assert set(report["by_replica"]) == {"app1", "app2"}
    assert max(report["by_replica"].values()) <= 4


@needs_haproxy
def test_without_the_stickiness_cookie_an_upload_misses_its_session(tmp_path):
    # The control for the test above: Streamlit's known failure under replicas without affinity.
    async def scenario(url):
        session, context = await hold(url)
        await session.upload()
        with_cookie = session.result.http_ok
        del session.cookies[class_load.REPLICA_COOKIE]
        await session.upload()
        await context.__aexit__(None, None, None)
        return with_cookie, session

    with running_replicas(2, tmp_path) as replicas:
        with_cookie, session = run(scenario(replicas.url))
    assert with_cookie == 1
    # leastconn sends a request without the cookie to the replica without our websocket.
    assert session.result.http_ok == 1
    assert any("upload refused: HTTP 400" in e for e in session.result.errors), (
        session.result.errors
    )


async def one_on_each(url: str, count: int, page: str = "schedules", query: str = ""):
    """Open sessions until each of ``count`` replicas holds one; (sessions, contexts)."""
    sessions, contexts = {}, []
    while len(sessions) < count and len(contexts) < 4 * count:
        session, context = await hold(url, query or f"lang=zh&{LOG_SCALE}=1", page=page)
        contexts.append(context)
        sessions.setdefault(session.result.replica, session)
    return sessions, contexts


async def start_training(session: LightSession, seconds: float) -> asyncio.Task:
    """Press Start and keep the live panel ticking, as the browser's timer does, in the background."""
    start = next(wid for wid in session.widgets if wid.endswith(class_load.START_KEY))
    await session.run_and_wait(WidgetState(id=start, trigger_value=True))
    assert session.fragments, "Start did not schedule live updates"
    return asyncio.create_task(session.fragment_loop(time.monotonic() + seconds))


@needs_haproxy
def test_a_replica_dies_mid_class(tmp_path):
    # Two students train, one on each replica; the first one's replica is killed.
    async def scenario(replicas):
        sessions, contexts = await one_on_each(replicas.url, 2, "mnist", BATCH_NORM_LINK)
        victim, survivor = sessions["app1"], sessions["app2"]
        ticking = [await start_training(s, 60) for s in (victim, survivor)]
        await asyncio.sleep(2)
        replicas.kill(0)
        taken_out = asyncio.create_task(
            asyncio.to_thread(replicas.wait_status, 0, "DOWN", TAKEN_OUT_WITHIN_S)
        )
        step_at_kill = survivor.step
        # The browser sees its websocket close and reconnects at once, before any health check
        # has noticed: haproxy sends it on to the live replica (redispatch).
        back, back_ctx = await hold(
            replicas.url, victim.query, "mnist", resume=victim.session_id, cookies=victim.cookies
        )
        await back.upload()
        taken_out_s = await taken_out
        newcomer, newcomer_ctx = await hold(replicas.url)
        await asyncio.sleep(2)
        survivor_steps = survivor.step - step_at_kill
        for task in ticking:
            task.cancel()
        await asyncio.gather(*ticking, return_exceptions=True)
        for context in [*contexts, back_ctx, newcomer_ctx]:
            await context.__aexit__(None, None, None)
        return victim, survivor, back, newcomer, taken_out_s, survivor_steps

    with running_replicas(2, tmp_path) as replicas:
        victim, survivor, back, newcomer, taken_out_s, survivor_steps = run(scenario(replicas))
        status = replicas.status()
    assert status["app1"] == "DOWN" and status["app2"].startswith("UP")
    assert taken_out_s <= TAKEN_OUT_WITHIN_S
    # The victim's browser is on the live replica, in a new session, told so, settings kept, and
    # its training is not running any more (Start again).
    assert back.result.replica == "app2"
    assert back.session_id != victim.session_id
    assert translate("en", "app.restarted") in back.notices
    assert toggle_value(back, "mn_bn") is True
    assert not back.fragments and any(w.endswith(class_load.START_KEY) for w in back.widgets)
    assert back.result.http_ok == 1 and back.result.errors == []
    assert newcomer.result.replica == "app2" and newcomer.result.errors == []
    # The other replica's student trained on throughout, told nothing.
    assert survivor_steps > 0 and survivor.result.errors == []
    assert translate("en", "app.restarted") not in survivor.notices


@needs_haproxy
def test_a_rolling_update_drops_no_session_on_the_replicas_that_stay(tmp_path):
    async def scenario(replicas):
        sessions, contexts = await one_on_each(replicas.url, 2)
        stays = sessions["app2"]
        await asyncio.to_thread(replicas.replace, 0)  # stop app1, start its successor, wait UP
        state = stays.widget_change(0)
        await stays.run_and_wait(state, stays.widget_fragments.get(state.id, ""), False)
        connected = stays.ws.state.name == "OPEN"
        newcomer, newcomer_ctx = await hold(replicas.url)  # leastconn: the new, empty app1
        for context in [*contexts, newcomer_ctx]:
            await context.__aexit__(None, None, None)
        return stays, connected, newcomer

    with running_replicas(2, tmp_path) as replicas:
        stays, connected, newcomer = run(scenario(replicas))
    assert connected and stays.result.errors == []
    assert translate("zh", "app.restarted") not in stays.notices
    assert newcomer.result.replica == "app1" and newcomer.result.errors == []


@needs_haproxy
def test_the_native_runner_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    options = ["--replicas", "2", "--port", str(port), "--hours", "0.05", "--logs", str(tmp_path)]
    # Its own process group: whatever this test asserts, nothing it started outlives it.
    runner = subprocess.Popen(
        [sys.executable, "deploy/run_local.py", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        lines = [runner.stdout.readline() for _ in range(3)]  # the URL, then each replica's
        assert f"http://127.0.0.1:{port}" in lines[0], lines
        urls = [line.split()[-1] for line in lines[1:]]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            cookies = r.headers.get_all("Set-Cookie")
        assert any(cookie.startswith(f"{class_load.REPLICA_COOKIE}=app") for cookie in cookies)
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) == 0
        # haproxy and both replicas are gone with it.
        for url in [f"http://127.0.0.1:{port}", *urls]:
            with pytest.raises(OSError):
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
    finally:
        if runner.poll() is None:
            runner.terminate()  # run_local stops haproxy and the replicas on SIGTERM
            with contextlib.suppress(subprocess.TimeoutExpired):
                runner.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runner.pid, signal.SIGKILL)  # any left behind
        runner.wait()
