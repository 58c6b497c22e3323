"""A browser that reconnects to a process without its session is told that its run restarted,
driven by the load benchmark's light clients, which speak Streamlit's websocket protocol."""

from benchmarks import class_load
from benchmarks._server import running_server
from benchmarks.class_load import LightSession, SessionResult
from ui.i18n import translate
from ui.shell import resumed_session_id

LOG_SCALE = "sch_logy"  # the schedules page's log-scale toggle, in the URL as sch_logy=1


def run(coroutine):
    return class_load.run_in_own_loop(coroutine)


def toggle_value(session: LightSession, key: str) -> bool:
    """The value the page gave a toggle in its last run (its proto default follows the value)."""
    (proto,) = [proto for wid, (_, proto) in session.widgets.items() if wid.endswith(key)]
    return proto.default


async def hold(url: str, query: str = "lang=en", resume: str = "", cookies=None):
    """A light session on the schedules page, its websocket left open; (session, context)."""
    session = LightSession(url, "schedules", SessionResult("light", "schedules"))
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
