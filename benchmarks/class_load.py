"""A whole class on one server: N concurrent sessions against the real ``streamlit run app.py``.

Most sessions are light clients that speak Streamlit's own websocket protocol (``/_stcore/stream``,
BackMsg/ForwardMsg protobufs from ``streamlit.proto``, the ``websockets`` client streamlit already
installs); ``--browsers`` of them are real chromium pages driven by Playwright. A light client keeps
its cookies as a browser does (a load balancer's stickiness cookie among them, see ``deploy/``) and
makes the HTTP requests that belong to its session: it uploads a small file as ``st.file_uploader``
does and, on MNIST, downloads the model file; each must reach the process holding the session. Each session opens
home, then one page (round robin over the pages), changes a widget a few times and measures click ->
end of that run; on the MNIST page (used automatically once it is in ``ui.navigation.PAGES``) it
presses Start and trains for the remaining time, counting steps per second from the page's step
counter, and timing the interval between live-fragment updates.

    python benchmarks/class_load.py --sessions 30 --seconds 60
    python benchmarks/class_load.py --ramp 10,30,60 --seconds 60 --browsers 2
    python benchmarks/class_load.py --warm --think 5 --stagger 10   # the teacher opened it first
    python benchmarks/class_load.py --url http://127.0.0.1:8080     # replicas behind deploy/'s haproxy
    python benchmarks/class_load.py --pages mnist --query mn_arch=cnn --warm   # all train the CNN

A fresh server is cold: the first visitors wait for every import. ``--warm`` measures the class
after one session (the teacher's) has opened each page.

Bounded in sessions and seconds; loopback only; the started server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from threadpoolctl import threadpool_info

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._server import CHROMIUM, CHROMIUM_ARGS, running_server  # noqa: E402
from ui.navigation import PAGES  # noqa: E402

LOAD_PAGES = tuple(
    e.url_path for e in PAGES if e.url_path in ("optimizers", "schedules", "activations", "mnist")
)
MNIST = "mnist" in LOAD_PAGES
START_KEY = "_mn_start"  # pages/mnist.py: the Start button's key
STEP_LABEL = "Step"  # locales/en/mnist.toml: step = "Step" (the sessions ask for lang=en)
RUN_TIMEOUT = 30.0  # seconds a run may take before it counts as a timeout error
ERRORS_LOG = ROOT / "screenshots" / "class_load_errors.txt"  # full tracebacks shown by the app
ERROR_SCREENSHOT = ROOT / "screenshots" / "class_load_browser_error.png"  # the last browser failure
# What that page's console and websocket did until it failed: a blank screenshot alone does not
# say whether the page never connected, never got its first run, or lost its connection.
ERROR_TIMELINE = ERROR_SCREENSHOT.with_suffix(".log")
GOALS = {"sessions": 30, "errors": 0, "p95_s": 2.0, "rss_mb": 600.0}
FINISHED = ForwardMsg.ScriptFinishedStatus
XSRF_COOKIE = "_streamlit_xsrf"  # Streamlit's; its value is also the token sent with requests
REPLICA_COOKIE = "DLP_REPLICA"  # deploy/haproxy.cfg's stickiness cookie: the replica's name


def url_query(extra: str = "") -> str:
    """What every session puts after the ``?`` of its URLs: English, and ``extra`` (settings)."""
    return "&".join(filter(None, ("lang=en", extra.strip("?&"))))


# ---------------------------------------------------------------------------- server


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, read from /proc (psutil is not a dependency)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def status_kb(pid: int, field: str) -> int:
    """One ``kB`` field (VmRSS, VmHWM) of /proc/<pid>/status; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (/proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Peak resident memory of process trees together (max of summed VmRSS samples and, for a
    single process, of VmHWM), and the cores they used on average while sampled. Several pids are
    the replicas behind a load balancer; none samples nothing."""

    def __init__(self, pids: list[int], every: float = 0.25) -> None:
        self.pids, self.every, self.peak_kb = pids, every, 0
        self.cores_used = float("nan")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[int]:
        return [p for pid in self.pids for p in process_tree(pid)]

    def _sample(self) -> None:
        tree = self._tree()
        total = sum(status_kb(p, "VmRSS") for p in tree)
        # VmHWM catches a peak between samples; per process only, so it bounds from below.
        hwm = sum(status_kb(p, "VmHWM") for p in tree) if len(tree) == 1 else 0
        self.peak_kb = max(self.peak_kb, total, hwm)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        if self.pids:
            self._cpu0 = cpu_seconds(self._tree())
            self._t0 = time.monotonic()
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.pids:
            self._stop.set()
            self._thread.join()
            self._sample()
            used = cpu_seconds(self._tree()) - self._cpu0
            self.cores_used = used / (time.monotonic() - self._t0)


# ---------------------------------------------------------------------------- measurements


@dataclasses.dataclass
class SessionResult:
    """What one session saw."""

    kind: str  # "light" or "browser"
    page: str
    held: bool = False  # connected and still connected at the end
    errors: list[str] = dataclasses.field(default_factory=list)  # distinct: a failed panel
    # is shown again on every rerun of its fragment and counts once per session
    details: dict[str, str] = dataclasses.field(default_factory=dict)  # full tracebacks
    click_s: list[float] = dataclasses.field(default_factory=list)  # click -> end of that run
    fragment_gaps_s: list[float] = dataclasses.field(default_factory=list)  # live updates apart
    steps_per_s: float | None = None  # MNIST only
    replica: str | None = None  # the replica a load balancer pinned the session to
    http_ok: int = 0  # the session's own HTTP requests (upload, model download) that succeeded


# ---------------------------------------------------------------------------- light client


class LightSession:
    """One visitor speaking Streamlit's websocket protocol, without a browser."""

    def __init__(self, url: str, page: str, result: SessionResult, query: str = "") -> None:
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.page, self.result = page, result
        self.query = url_query(query)
        # The browser names the page it shows by its script hash in every request; a fragment's
        # st.rerun() would otherwise run the default page (home) instead of this one.
        self.page_script_hash = ""
        self.widgets: dict[str, tuple[str, object]] = {}  # id -> (element type, proto), main area
        # A widget's proto default follows its current value (ui.controls.keyed), so a toggle
        # flips relative to the value it had when first seen.
        self.first_defaults: dict[str, bool] = {}
        # A widget drawn by a fragment (ui.controls.panel_fragment) reruns that fragment alone,
        # as the browser asks.
        self.widget_fragments: dict[str, str] = {}  # widget id -> id of the fragment that drew it
        self.step: int | None = None
        self.step_times: list[tuple[float, int]] = []
        self.fragments: dict[str, float] = {}  # run_every fragment id -> interval
        self.finished: asyncio.Queue[int] = asyncio.Queue()
        self.ws = None
        self.base_url = url
        self.cookies: dict[str, str] = {}
        self.session_id = ""  # the server's id of this session (its new_session message)
        self.model_url = ""  # the MNIST page's model file, while its download button is enabled
        self.replies: dict[str, asyncio.Future] = {}  # request id -> the server's answer
        self.notices: list[str] = []  # the text of every st.info/warning/error/success shown

    async def fetch(
        self, method: str, path: str, body: bytes = b"", headers: dict | None = None
    ) -> tuple[int, bytes]:
        """One HTTP request of this visitor's browser: its cookies and XSRF token go along, and the
        cookies it is given are kept. Returns (status, body)."""
        request = urllib.request.Request(
            urllib.parse.urljoin(self.base_url, path),
            data=body or None,
            method=method,
            headers={
                "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                "X-Xsrftoken": self.cookies.get(XSRF_COOKIE, ""),
                **(headers or {}),
            },
        )

        def send():
            try:
                with urllib.request.urlopen(request, timeout=RUN_TIMEOUT) as response:
                    return response.status, response.read(), response.headers
            except urllib.error.HTTPError as error:
                return error.code, error.read(), error.headers

        status, data, reply_headers = await asyncio.to_thread(send)
        for cookie in reply_headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        self.result.replica = self.cookies.get(REPLICA_COOKIE, self.result.replica)
        return status, data

    @contextlib.asynccontextmanager
    async def connect(self, resume: str = ""):
        """Open the session's websocket as the browser does: after a first HTTP request (the page
        itself, which brings the XSRF and any load balancer's cookie), with those cookies, and with
        the id of the session to resume when it reconnects (``resume``)."""
        await self.fetch("GET", "/_stcore/health")
        protocols = ["streamlit", self.cookies.get(XSRF_COOKIE, "PLACEHOLDER_AUTH_TOKEN")]
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        async with websockets.connect(
            self.ws_url,
            subprotocols=[*protocols, resume] if resume else protocols,
            additional_headers={"Cookie": cookie},
            max_size=None,
            open_timeout=RUN_TIMEOUT,
        ) as ws:
            self.ws = ws
            reader = asyncio.create_task(self.reader())
            try:
                yield reader
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader

    async def ask(self, msg: BackMsg, request_id: str):
        """Send a request over the websocket and wait for the server's answer to ``request_id``."""
        self.replies[request_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(msg.SerializeToString())
        try:
            return await asyncio.wait_for(self.replies[request_id], RUN_TIMEOUT)
        finally:
            del self.replies[request_id]

    async def upload(self) -> None:
        """Upload a small file as ``st.file_uploader`` does: the session hands out an upload URL
        over the websocket, then the file goes there by HTTP PUT. Behind replicas the PUT works only
        on the replica that holds the session (elsewhere: 400 'Invalid session_id')."""
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id = f"upload-{id(self)}"
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.append("affinity.txt")
        reply = await self.ask(msg, request_id)
        boundary = "dlp-class-load"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="UploadedFile"; '
            f'filename="affinity.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
            f"--{boundary}--\r\n"
        ).encode()
        status, data = await self.fetch(
            "PUT",
            reply.file_urls[0].upload_url,
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        if status == 204:
            self.result.http_ok += 1
        else:
            self.error(f"upload refused: HTTP {status} {data[:60]!r}")

    async def download_model(self) -> None:
        """Download the MNIST page's model file as its button does: the file is made when the
        button is drawn and GET from the process that holds the session."""
        status, data = await self.fetch("GET", self.model_url)
        if status == 200 and data[:2] == b"PK":  # an .npz is a zip file
            self.result.http_ok += 1
        else:
            self.error(f"model download failed: HTTP {status}")

    async def send_rerun(self, widget_state=None, fragment_id: str = "", auto: bool = True) -> None:
        """Ask for a rerun of the current page (or of one fragment), as the browser does after a
        widget change (``auto=False``) or on a fragment's ``run_every`` timer."""
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query
        rerun.page_name = self.page
        rerun.page_script_hash = self.page_script_hash
        if widget_state is not None:
            rerun.widget_states.widgets.append(widget_state)
        if fragment_id:
            rerun.fragment_id = fragment_id
            rerun.is_auto_rerun = auto
        await self.ws.send(msg.SerializeToString())

    def error(self, text: str) -> None:
        """Record an error once per session, tagged with the page."""
        text = f"[{self.page}] {text}"
        if text not in self.result.errors:
            self.result.errors.append(text)

    def on_element(self, element, main_area: bool, fragment_id: str = "") -> None:
        """Record widgets, the MNIST step counter and errors shown by the app."""
        kind = element.WhichOneof("type")
        if kind == "exception":
            self.error(f"exception: {element.exception.message[:160]}")
        elif kind == "code" and "Traceback (most recent call last)" in element.code.code_text:
            text = element.code.code_text.strip()
            self.error("panel failed: " + text.splitlines()[-1][:160])
            self.result.details.setdefault(text[-160:], text)
        elif kind == "metric" and element.metric.label == STEP_LABEL:
            step = int(element.metric.body.replace(",", ""))
            now = time.monotonic()
            if self.step_times and step != self.step_times[-1][1]:
                self.result.fragment_gaps_s.append(now - self.step_times[-1][0])
            if not self.step_times or step != self.step_times[-1][1]:
                self.step_times.append((now, step))
            self.step = step
        elif kind == "alert":
            self.notices.append(element.alert.body)
        elif kind == "download_button" and not element.download_button.disabled:
            self.model_url = element.download_button.url
        elif main_area and kind in ("button", "checkbox", "selectbox"):
            proto = getattr(element, kind)
            self.widgets[proto.id] = (kind, proto)
            self.widget_fragments[proto.id] = fragment_id

    async def reader(self) -> None:
        """Consume ForwardMsgs until the socket closes."""
        async for data in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(data)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                path = msg.metadata.delta_path
                self.on_element(
                    msg.delta.new_element,
                    main_area=bool(path) and path[0] == 0,
                    fragment_id=msg.delta.fragment_id,
                )
            elif kind == "script_finished":
                self.finished.put_nowait(msg.script_finished)
            elif kind == "navigation":
                self.page_script_hash = msg.navigation.page_script_hash
            elif kind == "auto_rerun":
                self.fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                self.fragments.clear()
            elif kind == "page_not_found":
                self.error("page not found")
            elif kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id
            elif kind == "file_urls_response":
                self.answer(msg.file_urls_response.response_id, msg.file_urls_response)
            elif kind == "backend_operation_response":
                self.answer(
                    msg.backend_operation_response.request_id, msg.backend_operation_response
                )

    def answer(self, request_id: str, reply) -> None:
        """Hand the server's answer to whoever asked (``ask``)."""
        waiting = self.replies.get(request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(reply)

    async def run_and_wait(
        self, widget_state=None, fragment_id: str = "", auto: bool = True
    ) -> float:
        """Send one rerun and wait for its script_finished; seconds taken."""
        while not self.finished.empty():
            self.finished.get_nowait()
        start = time.monotonic()
        await self.send_rerun(widget_state, fragment_id, auto)
        while True:
            status = await asyncio.wait_for(self.finished.get(), RUN_TIMEOUT)
            if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                self.error("compile error")
            if status != FINISHED.FINISHED_EARLY_FOR_RERUN:
                return time.monotonic() - start

    def widget_change(self, click: int):
        """The WidgetState of one 'click': flip a toggle, next selectbox option, or a button."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState()
        by_kind = {}
        for wid, (kind, proto) in self.widgets.items():
            if not getattr(proto, "disabled", False) and "lang" not in wid:
                by_kind.setdefault(kind, []).append((wid, proto))
        if "checkbox" in by_kind:
            wid, proto = by_kind["checkbox"][0]
            first = self.first_defaults.setdefault(wid, proto.default)
            state.id, state.bool_value = wid, (click % 2 == 0) != first
        elif any(len(p.options) > 1 for _, p in by_kind.get("selectbox", [])):
            wid, proto = next((w, p) for w, p in by_kind["selectbox"] if len(p.options) > 1)
            state.id, state.string_value = wid, proto.options[(click + 1) % len(proto.options)]
        elif "button" in by_kind:
            wid, _ = by_kind["button"][0]
            state.id, state.trigger_value = wid, True
        else:
            return None
        return state

    async def fragment_loop(self, until: float) -> None:
        """Rerun the run_every fragments like the browser's timers, one request at a time."""
        due: dict[str, float] = {}
        while time.monotonic() < until and self.fragments:
            now = time.monotonic()
            for fid, interval in self.fragments.items():
                due.setdefault(fid, now + interval)
            fid = min(due, key=due.get)
            if fid not in self.fragments:
                del due[fid]
                continue
            await asyncio.sleep(max(0.0, min(due[fid], until) - now))
            if time.monotonic() >= until:
                break
            # Like the browser's setInterval, but never two requests in flight.
            due[fid] = time.monotonic() + self.fragments.get(fid, 0.0)
            await self.run_and_wait(fragment_id=fid)

    async def session(
        self, until: float, clicks: int, think: float = 0.0, train: bool = True
    ) -> None:
        """Home, then the page; the session's own HTTP requests (an upload; on MNIST, the model
        file); a few widget changes; on MNIST, Start and train until the end (with ``train=False``
        the MNIST page is only opened)."""
        try:
            async with self.connect() as reader:
                page = self.page
                self.page = ""  # the default page (home) is the bare "/" in the browser
                await self.run_and_wait()
                self.page, self.page_script_hash = page, ""
                self.widgets.clear()
                await self.run_and_wait()
                await self.upload()
                if self.model_url:
                    await self.download_model()
                if page == "mnist":
                    if train:
                        await self.train(until)
                else:
                    for click in range(clicks):
                        await asyncio.sleep(think)  # a student reads before changing more
                        if time.monotonic() >= until:
                            break
                        state = self.widget_change(click)
                        if state is None:
                            self.error("no widget to change")
                            break
                        fragment = self.widget_fragments.get(state.id, "")
                        seconds = await self.run_and_wait(state, fragment, auto=False)
                        self.result.click_s.append(seconds)
                await asyncio.sleep(max(0.0, until - time.monotonic()))
                self.result.held = not reader.done()
        except TimeoutError:
            self.error("timeout")
        except websockets.ConnectionClosed as error:
            self.error(f"disconnected: {error}")
        except OSError as error:
            self.error(f"connect failed: {error}")

    async def train(self, until: float) -> None:
        """Press Start (timed like any click), then keep the live fragment ticking until ``until``."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        start_id = next((w for w in self.widgets if w.endswith(START_KEY)), None)
        if start_id is None:
            self.error("no Start button on the MNIST page")
            return
        state = WidgetState(id=start_id, trigger_value=True)
        self.result.click_s.append(await self.run_and_wait(state))
        if not self.fragments:
            self.error("Start did not schedule live updates")
            return
        first = self.step_times[-1] if self.step_times else (time.monotonic(), 0)
        await self.fragment_loop(until)
        last = self.step_times[-1] if self.step_times else first
        if last[0] > first[0]:
            self.result.steps_per_s = (last[1] - first[1]) / (last[0] - first[0])


# ---------------------------------------------------------------------------- browser client


async def browser_session(
    browser, url: str, page: str, result: SessionResult, until: float, query: str = ""
):
    """The same flow in a real chromium page: click -> the page has received the end of that run
    (on MNIST: click Start -> the step counter on screen has moved)."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    tab = await context.new_page()
    tab.on("crash", lambda *_: result.errors.append("page crashed"))
    # The page's own websocket frames say when a run has ended (the status widget can still be
    # absent right after a click on a busy server, which would stop the clock too early).
    finished: asyncio.Queue[float] = asyncio.Queue()
    opened = time.monotonic()
    timeline: list[str] = []

    def note(event: str) -> None:
        timeline.append(f"{time.monotonic() - opened:7.2f} s  {event}")

    def on_frame(payload) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            kind = msg.WhichOneof("type")
            if kind == "script_finished":
                note(f"message script_finished {FINISHED.Name(msg.script_finished)}")
            elif kind == "ref_hash":  # an element the page has cached, sent by its hash
                note(f"delta {list(msg.metadata.delta_path)} cached element")
            elif kind != "delta":
                note(f"message {kind}")
            else:
                # Where each element lands: a frontend that cannot place one goes blank.
                path = list(msg.metadata.delta_path)
                what = msg.delta.WhichOneof("type")
                if what == "new_element":
                    what = msg.delta.new_element.WhichOneof("type")
                note(f"delta {path} {what} fragment={msg.delta.fragment_id or '-'}")
            if kind == "script_finished" and msg.script_finished in (
                FINISHED.FINISHED_SUCCESSFULLY,
                FINISHED.FINISHED_WITH_COMPILE_ERROR,
                FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,  # a panel that reruns alone
            ):
                finished.put_nowait(time.monotonic())

    def on_websocket(ws) -> None:
        note(f"websocket opened {ws.url}")
        ws.on("framereceived", on_frame)
        ws.on("close", lambda *_: note("websocket closed"))
        ws.on("socketerror", lambda error: note(f"websocket error: {error}"))

    tab.on("websocket", on_websocket)
    tab.on("console", lambda message: note(f"console {message.type}: {message.text[:300]}"))
    tab.on("pageerror", lambda error: note(f"page error: {str(error)[:300]}"))
    tab.on("requestfailed", lambda request: note(f"request failed: {request.url}"))
    tab.on("load", lambda *_: note(f"load {tab.url}"))
    timeout_ms = RUN_TIMEOUT * 1000

    async def settled() -> None:
        # As tests/e2e's wait_for_app: the frontend's own state, which is "initial" before the
        # first run (the status widget is also absent then, and waiting for it passed too early).
        await tab.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
        await tab.wait_for_timeout(300)  # let a run start before looking for its end
        await tab.wait_for_selector(
            "[data-testid='stApp'][data-test-connection-state='CONNECTED']"
            "[data-test-script-state='notRunning']",
            timeout=timeout_ms,
        )

    async def step_value() -> int | None:
        metric = tab.locator("[data-testid='stMetric']", has_text=STEP_LABEL).first
        text = await metric.locator("[data-testid='stMetricValue']").inner_text(timeout=timeout_ms)
        return int(text.replace(",", "").strip())

    try:
        await tab.goto(f"{url}/?{url_query(query)}", timeout=timeout_ms)
        await settled()
        note("step: home settled")
        await tab.goto(f"{url}/{page}?{url_query(query)}", timeout=timeout_ms)
        await settled()
        note(f"step: {page} settled")
        if page == "mnist":
            before = await step_value()
            start = time.monotonic()
            await tab.get_by_role("button", name="Start").click(timeout=timeout_ms)
            await tab.wait_for_function(
                "([label, before]) => [...document.querySelectorAll('[data-testid=stMetric]')]"
                ".some(m => m.innerText.startsWith(label) && "
                "parseInt(m.querySelector('[data-testid=stMetricValue]').innerText"
                ".replace(/,/g, '')) > before)",
                arg=[STEP_LABEL, before],
                timeout=timeout_ms,
            )
            result.click_s.append(time.monotonic() - start)
            t0, s0 = time.monotonic(), await step_value()
            last_step, last_t = s0, t0
            while time.monotonic() < until:
                await asyncio.sleep(0.1)
                step = await step_value()
                if step != last_step:
                    now = time.monotonic()
                    result.fragment_gaps_s.append(now - last_t)
                    last_step, last_t = step, now
            if last_t > t0:
                result.steps_per_s = (last_step - s0) / (last_t - t0)
        else:
            # A toggle where the page has one, else a slider nudged with the arrow key (page 1
            # has no toggle in its main area).
            toggle = tab.locator("[data-testid='stMain'] [data-testid='stCheckbox']").first
            slider = tab.locator("[data-testid='stMain'] [data-testid='stSlider'] input")
            await toggle.or_(slider).first.wait_for(state="attached", timeout=timeout_ms)
            use_toggle = await toggle.count() > 0
            for click in range(3):
                if time.monotonic() >= until:
                    break
                while not finished.empty():
                    finished.get_nowait()
                note(f"step: click {click + 1}")
                start = time.monotonic()
                if use_toggle:
                    await toggle.click(timeout=timeout_ms)
                else:
                    await slider.first.press("ArrowRight", timeout=timeout_ms)
                end = await asyncio.wait_for(finished.get(), RUN_TIMEOUT)
                result.click_s.append(end - start)
                note(f"step: click {click + 1} finished")
                await settled()
        errors = await tab.locator("[data-testid='stException']").count()
        errors += await tab.get_by_text("Traceback (most recent call last)").count()
        result.errors.extend(["exception shown in the browser"] * errors)
        await asyncio.sleep(max(0.0, until - time.monotonic()))
        result.held = True
    except Exception as error:  # a browser failure is one session's error, not the harness's
        result.errors.append(f"browser: {type(error).__name__}: {str(error)[:120]}")
        # What the page showed when it failed, for whoever reads the error.
        with contextlib.suppress(Exception):
            ERROR_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await tab.screenshot(path=str(ERROR_SCREENSHOT), full_page=True)
        with contextlib.suppress(Exception):
            states = await tab.locator("[data-testid='stApp']").evaluate(
                "app => [app.dataset.testConnectionState, app.dataset.testScriptState]"
            )
            note(f"app state at the failure: connection {states[0]}, script {states[1]}")
        note(f"failed: {type(error).__name__}")
        with contextlib.suppress(Exception):
            ERROR_TIMELINE.write_text("\n".join(timeline) + "\n")
    finally:
        await context.close()


# ---------------------------------------------------------------------------- driver


async def drive(
    url: str,
    sessions: int,
    seconds: float,
    browsers: int,
    clicks: int,
    pages=LOAD_PAGES,
    stagger: float = 0.0,
    think: float = 0.0,
    query: str = "",
):
    """Run ``sessions`` concurrent sessions (``browsers`` of them in chromium) for ``seconds``;
    each opens its pages with ``query`` added to their URL."""
    # Browsers take the pages from the end of the list (MNIST first when it exists), so the few
    # real pages see the page where a screen update matters most.
    results = [SessionResult("browser", pages[-1 - i % len(pages)]) for i in range(browsers)] + [
        SessionResult("light", pages[i % len(pages)]) for i in range(sessions - browsers)
    ]
    until = time.monotonic() + seconds
    # A thread per session for its blocking HTTP requests (urllib), so that none waits for
    # another's: the default pool has cores + 4 threads.
    asyncio.get_running_loop().set_default_executor(
        concurrent.futures.ThreadPoolExecutor(max_workers=min(64, sessions + 4))
    )

    async def later(i: int, coroutine):
        # Arrivals spread evenly over ``stagger`` seconds (0: the whole class clicks the link at once).
        await asyncio.sleep(stagger * i / max(1, sessions))
        return await coroutine

    tasks = [
        later(i, LightSession(url, r.page, r, query).session(until, clicks, think))
        for i, r in enumerate(results)
        if r.kind == "light"
    ]
    browser_results = [r for r in results if r.kind == "browser"]
    if browser_results:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            tasks += [
                later(i, browser_session(browser, url, r.page, r, until, query))
                for i, r in enumerate(results)
                if r.kind == "browser"
            ]
            await asyncio.wait_for(asyncio.gather(*tasks), seconds + 3 * RUN_TIMEOUT)
            await browser.close()
    else:
        await asyncio.wait_for(asyncio.gather(*tasks), seconds + 3 * RUN_TIMEOUT)
    return results


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (numpy's linear interpolation), NaN for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def blas_kernel() -> str:
    """The BLAS library NumPy uses here, with its kernel (threadpoolctl)."""
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return (
        ", ".join(f"{i['internal_api']} {i['version']} ({i.get('architecture')})" for i in infos)
        or "none found"
    )


def summarize(
    results: list[SessionResult], seconds: float, peak_kb: int | None, cores_used: float
) -> dict:
    """The report of one run as a dict (also what the smoke test checks)."""
    details = {k: v for r in results for k, v in r.details.items()}
    if details:
        ERRORS_LOG.parent.mkdir(parents=True, exist_ok=True)
        ERRORS_LOG.write_text("\n\n".join(details.values()))
    clicks = [c for r in results for c in r.click_s]
    gaps = [g for r in results for g in r.fragment_gaps_s]
    rates = [r.steps_per_s for r in results if r.steps_per_s is not None]
    by_page = {}
    for kind in ("light", "browser"):
        for page in sorted({r.page for r in results if r.kind == kind}):
            times = [c for r in results if (r.kind, r.page) == (kind, page) for c in r.click_s]
            n = sum((r.kind, r.page) == (kind, page) for r in results)
            by_page[f"{kind}/{page}"] = (
                n,
                len(times),
                percentile(times, 50),
                percentile(times, 95),
            )
    replicas = sorted({r.replica for r in results if r.replica})
    return {
        "sessions": len(results),
        "by_page": by_page,
        # Sessions each replica held (light sessions; empty without a load balancer's cookie).
        "by_replica": {name: sum(r.replica == name for r in results) for name in replicas},
        "http_ok": sum(r.http_ok for r in results),
        "held": sum(r.held for r in results),
        "seconds": seconds,
        "errors": sum(len(r.errors) for r in results),
        "error_samples": sorted({e for r in results for e in r.errors})[:8],
        "clicks": len(clicks),
        "click_p50_s": percentile(clicks, 50),
        "click_p95_s": percentile(clicks, 95),
        "fragment_gap_p50_s": percentile(gaps, 50),
        "fragment_gap_p95_s": percentile(gaps, 95),
        "training_sessions": len(rates),
        "steps_per_s": [round(r, 1) for r in rates],
        "steps_per_s_browser": [
            round(r.steps_per_s, 1)
            for r in results
            if r.kind == "browser" and r.steps_per_s is not None
        ],
        "steps_per_s_median": statistics.median(rates) if rates else float("nan"),
        "steps_per_s_total": sum(rates),
        "rss_peak_mb": peak_kb / 1024 if peak_kb else float("nan"),
        "server_cores_used": cores_used,
        "blas": blas_kernel(),
        "cores": os.cpu_count(),
        "pages": LOAD_PAGES,
    }


def meets_goals(report: dict) -> bool:
    """The issue's goals: 0 errors, p95 click->update < 2 s, server RSS < 600 MB."""
    return (
        report["errors"] == GOALS["errors"]
        and report["held"] == report["sessions"]
        and report["click_p95_s"] < GOALS["p95_s"]
        and not report["rss_peak_mb"] >= GOALS["rss_mb"]
    )


def print_report(report: dict) -> None:
    """Print one run's numbers."""
    print(
        f"sessions {report['held']}/{report['sessions']} held for {report['seconds']:g} s, "
        f"errors {report['errors']}"
    )
    for sample in report["error_samples"]:
        print(f"  error: {sample}")
    if report["error_samples"]:
        print(f"  (tracebacks the app showed, if any: {ERRORS_LOG})")
    if any(sample.startswith("browser:") for sample in report["error_samples"]):
        print(f"  (the page at the last browser failure: {ERROR_SCREENSHOT}, its timeline:")
        print(f"   {ERROR_TIMELINE})")
    print(
        f"click -> update: median {report['click_p50_s']:.3f} s, "
        f"p95 {report['click_p95_s']:.3f} s over {report['clicks']} clicks"
    )
    for name, (n, count, p50, p95) in report["by_page"].items():
        print(f"  {name}: {n} sessions, {count} clicks, median {p50:.3f} s, p95 {p95:.3f} s")
    print(
        f"HTTP requests of the sessions (uploads, model files) that succeeded: {report['http_ok']}"
    )
    if report["by_replica"]:
        print(f"sessions per replica: {report['by_replica']}")
    print(
        f"live fragment updates apart: median {report['fragment_gap_p50_s']:.3f} s, "
        f"p95 {report['fragment_gap_p95_s']:.3f} s"
    )
    print(
        f"training steps/s per session ({report['training_sessions']} training): "
        f"median {report['steps_per_s_median']:.1f}, all {report['steps_per_s']}"
        f" (in chromium: {report['steps_per_s_browser']})"
    )
    print(f"  all training sessions together: {report['steps_per_s_total']:.1f} steps/s")
    print(
        f"server peak RSS (tree): {report['rss_peak_mb']:.0f} MB; "
        f"server CPU: {report['server_cores_used']:.2f} cores on average; "
        f"this harness: {report.get('harness_cores_used', float('nan')):.2f} cores"
    )
    print(f"BLAS: {report['blas']}; cores: {report['cores']}; pages: {', '.join(report['pages'])}")
    print(
        f"goals (0 errors, p95 < 2 s, RSS < 600 MB): {'met' if meets_goals(report) else 'MISSED'}"
    )


def run_in_own_loop(coroutine):
    """asyncio.run on a fresh thread, so that it also works where this thread already runs a loop.

    Playwright's sync API (pytest-playwright's fixtures) keeps an event loop running in the main
    thread for the rest of a pytest session, and asyncio.run refuses to start inside it.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def warm_up(url: str, pages: tuple[str, ...]) -> list[SessionResult]:
    """The teacher checks the link before class: one light session opens each page and changes a
    widget twice (no training), so imports and first-use caches are done before the class comes."""
    results = [SessionResult("light", page) for page in pages]
    until = time.monotonic() + 5.0
    await asyncio.gather(
        *(LightSession(url, r.page, r).session(until, 2, train=False) for r in results)
    )
    return results


def measure(url: str, pids: list[int], sessions: int, args) -> dict:
    """One run at one size: drive the sessions while sampling the server's memory and CPU."""
    browsers = min(args.browsers, sessions)
    pages = tuple(args.pages.split(",")) if args.pages else LOAD_PAGES
    if args.warm:
        failed = [e for r in run_in_own_loop(warm_up(url, pages)) for e in r.errors]
        if failed:
            raise RuntimeError(f"warm-up failed: {failed}")
    cpu0, t0 = time.process_time(), time.monotonic()
    with RssSampler(pids) as rss:
        results = run_in_own_loop(
            drive(
                url,
                sessions,
                args.seconds,
                browsers,
                args.clicks,
                pages=pages,
                stagger=args.stagger,
                think=args.think,
                query=args.query,
            )
        )
    harness_cores = (time.process_time() - cpu0) / (time.monotonic() - t0)
    seconds = args.seconds
    report = summarize(results, seconds, rss.peak_kb if pids else None, rss.cores_used)
    # This process parses every ForwardMsg of every light session: if it nears one core, the
    # measured latencies include the harness's own queueing.
    report["harness_cores_used"] = harness_cores
    return report


def add_class_options(parser: argparse.ArgumentParser) -> None:
    """The options that describe a class: its size, length, pages and pace."""
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--browsers", type=int, default=2)
    parser.add_argument(
        "--clicks", type=int, default=5, help="widget changes per non-MNIST session"
    )
    parser.add_argument(
        "--stagger", type=float, default=0.0, help="spread the arrivals over this many seconds"
    )
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds between a light session's clicks"
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="before the class, one session opens each page (imports and caches done)",
    )
    parser.add_argument("--pages", help=f"comma-separated url paths (default {LOAD_PAGES})")
    parser.add_argument(
        "--query",
        default="",
        help="added to every page's URL, e.g. mn_arch=cnn: a class training the CNN preset",
    )
    parser.add_argument("--ramp", help="comma-separated session counts, e.g. 10,30,60")


def main(argv: list[str] | None = None) -> list[dict]:
    """Command line: one size (--sessions) or several (--ramp); returns the reports."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_class_options(parser)
    parser.add_argument("--url", help="an already running server (loopback); none is started")
    parser.add_argument(
        "--pid",
        type=lambda text: [int(pid) for pid in text.split(",")],
        default=[],
        help="that server's pid, for its memory and CPU (comma-separated: each replica's)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.ramp.split(",")] if args.ramp else [args.sessions]
    if max(sizes) > 200 or args.seconds > 600:
        parser.error("bounded: at most 200 sessions and 600 seconds")
    if args.url and not args.url.startswith(("http://127.0.0.1", "http://localhost")):
        parser.error(f"loopback only: {args.url=}")
    reports = []
    for size in sizes:
        print(
            f"== {size} sessions ({min(args.browsers, size)} in chromium), {args.seconds:g} s, "
            f"arrivals over {args.stagger:g} s, {args.think:g} s between clicks, "
            f"{'warm' if args.warm else 'cold'} server, "
            f"pages {args.pages or ','.join(LOAD_PAGES)}"
            + (f", URLs with ?{url_query(args.query)}" if args.query else "")
        )
        if args.url:
            report = measure(args.url, args.pid, size, args)
        else:
            # A fresh server per size, so the peak RSS belongs to that size.
            with running_server(ROOT / "screenshots" / "class_load_server.log") as (url, pid):
                report = measure(url, [pid], size, args)
        print_report(report)
        reports.append(report)
    if len(sizes) > 1:
        broken = [r["sessions"] for r in reports if not meets_goals(r)]
        print(f"ramp: goals missed first at {broken[0]} sessions" if broken else "ramp: all met")
    return reports


if __name__ == "__main__":
    main()
