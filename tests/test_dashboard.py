"""The dashboard over HTTP, in process: pages, filters, escaping, login, CSRF, actions, events.

The browser tests (``test_dashboard_browser.py``) click through the same pages in Chromium;
these check each rule of the contract request by request, in simulated time.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trio
import trio.testing

import turnkeeper_trio as tk
from tests.asgi_client import Client, csrf_of
from turnkeeper_trio.testing import MockWallClock
from turnkeeper_trio.web import Dashboard
from turnkeeper_trio.web._sessions import Sessions

TOKEN = "correct-horse-battery-staple"
XSS = "<script>alert(1)</script>"
START = datetime(2027, 3, 27, 12, 0, tzinfo=UTC)  # the day before Europe's spring-forward


async def noop() -> None:
    pass


async def broken() -> None:
    raise ValueError('bad <img src=x onerror="alert(2)"> input')


async def slow() -> None:
    await trio.sleep(3600)


@asynccontextmanager
async def running(**kwargs: Any) -> AsyncIterator[tk.Scheduler]:
    async with tk.open_scheduler(
        max_workers=2, wall_clock=MockWallClock(START), **kwargs
    ) as scheduler:
        yield scheduler
        await scheduler.shutdown_graceful(timeout=1)


async def settle() -> None:
    """Let the scheduler take in what was added (``add_job`` returns once it is staged)."""
    await trio.sleep(0.01)


def rows(html: str) -> list[str]:
    """The keys of the jobs page's rows, in order."""
    return re.findall(r'<tr data-key="([^"]*)"', html)


async def logged_in(app: Dashboard) -> Client:
    client = Client(app)
    reply = await client.post("/login", {"token": TOKEN})
    assert reply.status == 303
    return client


async def ticking_session(s: tk.Scheduler) -> tuple[Client, str]:
    """A job keyed "tick", taken in, and a logged-in client with its CSRF token."""
    await s.add_job(tk.Interval(60), noop, key="tick")
    await settle()
    client = await logged_in(Dashboard(s, token=TOKEN))
    return client, csrf_of((await client.get("/")).text)


# ------------------------------------------------------------------ pages


async def test_jobs_page_shows_each_job_with_schedule_state_and_next_run_in_both_zones(
    autojump_clock: object,
) -> None:
    paris = ZoneInfo("Europe/Paris")
    async with running() as s:
        await s.add_job(tk.Cron("30 2 * * *", tz=paris), noop, name="nightly", key="nightly")
        await s.add_job(tk.Interval(60), noop, name="poll")
        await s.add_job(tk.Never(), noop, name="manual")
        await s.add_job(tk.WeekdayTimes([("mon", "09:00"), ("fri", "17:30")]), noop, key="w")
        await settle()  # taken in and planned
        reply = await Client(Dashboard(s)).get("/")
    assert reply.status == 200
    assert reply.header("content-type") == "text/html; charset=utf-8"
    html = reply.text
    assert rows(html) == ["~2", "nightly", "w", "~3"]  # by next run; one that never runs last
    assert "cron 30 2 * * *" in html
    assert "every 1 min" in html
    assert "manual only" in html
    assert "mon 09:00, fri 17:30" in html
    assert "At 02:30" in html  # the cron sentence of the "describe" extra
    # 2027-03-28 02:30 does not exist in Paris: it runs when the clocks jump, 03:00 CEST.
    assert '<time datetime="2027-03-28T01:00:00+00:00" data-local>2027-03-28 01:00:00 UTC' in html
    assert "2027-03-28 03:00:00 CEST" in html
    assert "scheduled" in html
    assert "read-only" in html
    assert '<form method="post" action="/actions/' not in html  # no actions when read-only


async def test_jobs_page_filters_sorts_and_paginates(autojump_clock: object) -> None:
    async with running() as s:
        for n in range(120):
            await s.add_job(
                tk.Interval(60 + n), noop, name=f"{'alpha' if n % 2 else 'beta'}-{n:03}"
            )
        first = await s.add_job(tk.Interval(1), noop, name="alpha-paused", key="paused-one")
        await s.pause_job(first)
        await settle()  # taken in and planned
        client = Client(Dashboard(s, page_size=50))
        page1 = (await client.get("/")).text
        assert len(rows(page1)) == 50
        assert "page 1 of 3" in page1
        page3 = (await client.get("/", page="3")).text
        assert len(rows(page3)) == 21
        assert "page 3 of 3" in page3
        assert not set(rows(page1)) & set(rows(page3))
        paused = (await client.get("/", state="paused")).text
        assert rows(paused) == ["paused-one"]
        alphas = (await client.get("/", name="ALPHA", sort="name", order="desc")).text
        assert "page 1 of 2" in alphas
        names = re.findall(r'<td class="name"><a [^>]*>([^<]*)</a>', alphas)
        assert names[0] == "alpha-paused"
        assert names == sorted(names, reverse=True)
        assert all(name.startswith("alpha") for name in names)
        beyond = (await client.get("/", page="99")).text  # past the end: the last page
        assert "page 3 of 3" in beyond


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"page": "two"}, "page must be a whole number"),
        ({"page": "0"}, "page must be 1 or more"),
        ({"state": "sleeping"}, "state must be one of"),
        ({"sort": "colour"}, "sort must be one of"),
        ({"order": "up"}, "order must be asc or desc"),
    ],
)
async def test_bad_query_parameters_are_a_400_naming_the_parameter(
    query: dict[str, str], named: str, autojump_clock: object
) -> None:
    async with running() as s:
        reply = await Client(Dashboard(s)).get("/", **query)
    assert reply.status == 400
    assert named in reply.text


async def test_job_page_shows_definition_fires_with_dst_notes_runs_and_errors(
    autojump_clock: object,
) -> None:
    paris = ZoneInfo("Europe/Paris")
    async with running() as s:
        cron = await s.add_job(tk.Cron("30 2 * * *", tz=paris), noop, key="nightly", timeout=5)
        job = await s.add_job(tk.Once(START + timedelta(seconds=1)), broken, key="fails")
        with s.subscribe(tk.JobFailed, tk.JobCompleted) as ended:
            await ended.receive()
        client = Client(Dashboard(s))
        nightly = (await client.get("/job", key=cron.key)).text
        failed = (await client.get("/job", key=job.key)).text
        missing = await client.get("/job", key="nope")
        keyless = await client.get("/job")
    assert nightly.count("<li><time") == 10  # the next 10 fire times
    assert "02:30 does not exist on 2027-03-28: runs at 03:00 CEST" in nightly  # the CLI's note
    assert "Europe/Paris" in nightly
    assert "5.00 s" in nightly
    assert '<code id="function">tests.test_dashboard:noop</code> · 0 arguments' in nightly
    assert "<dt>Jitter</dt><dd>none" in nightly
    assert "ValueError" in failed
    assert "Traceback" in failed
    assert "errored" in failed
    assert 'onerror="alert(2)"' not in failed  # the error message is text, not markup
    assert "bad &lt;img src=x onerror=&#34;alert(2)&#34;&gt; input" in failed
    assert (missing.status, keyless.status) == (404, 400)
    assert "No job with key &#39;nope&#39;" in missing.text


async def test_job_page_lists_only_the_fires_the_job_will_run(autojump_clock: object) -> None:
    """Its lifetime cuts the list where it would end the job; an ended job lists none."""
    async with running() as s:
        limited = await s.add_job(tk.Interval(60), noop, key="thrice", lifetime=tk.MaxRuns(3))
        until = START + timedelta(minutes=4, seconds=30)
        bounded = await s.add_job(tk.Interval(60), noop, key="until", lifetime=tk.Until(until))
        cancelled = await s.add_job(tk.Interval(60), noop, key="cancelled")
        paused = await s.add_job(tk.Interval(60), noop, key="paused")
        await settle()
        await s.cancel_job(cancelled)
        await s.pause_job(paused)
        with s.subscribe(tk.RunFinished) as finished:
            await finished.receive()  # "thrice" and "until" ran once each (at +60 s)
            await finished.receive()
        client = Client(Dashboard(s))
        pages = {
            key.key: (await client.get("/job", key=key.key)).text
            for key in (limited, bounded, cancelled, paused)
        }
        assert s.get_job_details(limited).runs == 1
    # MaxRuns(3) with one run: two more fires, then the lifetime completes the job.
    assert pages["thrice"].count("<li><time") == 2
    assert "Then the job's lifetime ends it." in pages["thrice"]
    # Until 12:04:30, looked at after the 12:01 run: the fires at 12:02, 12:03 and 12:04.
    fires = re.findall(r'<li><time datetime="([^"]+)"', pages["until"])
    assert fires == [(START + timedelta(minutes=m)).isoformat() for m in (2, 3, 4)]
    assert pages["cancelled"].count("<li><time") == 0
    assert "None: the job has ended (cancelled)." in pages["cancelled"]
    assert pages["paused"].count("<li><time") == 10
    assert "Paused: these run only if the job is resumed before them." in pages["paused"]


async def test_job_page_shows_a_lifetime_that_fails_its_preview(autojump_clock: object) -> None:
    class Flaky(tk.abc.Lifetime):
        down = False

        def allows(self, *, runs: int, next_fire: datetime) -> bool:
            if self.down:
                raise RuntimeError("lifetime service down")
            return True

    lifetime = Flaky()
    async with running() as s:
        job = await s.add_job(tk.Interval(60), noop, key="flaky", lifetime=lifetime)
        await settle()  # planned: the scheduler's own question was answered
        lifetime.down = True  # the page's preview asks it next, before the first run
        page = await Client(Dashboard(s)).get("/job", key=job.key)
        state = s.get_job_details(job).state
    assert page.status == 200
    assert "The preview failed: RuntimeError: lifetime service down" in page.text
    assert state is tk.JobState.SCHEDULED  # the page's preview did not touch the job


async def test_names_and_keys_with_html_render_as_text(autojump_clock: object) -> None:
    async with running(store=tk.MemoryStore()) as s:
        await s.add_job(tk.Interval(60), noop, name=XSS, key=f"k{XSS}")
        await settle()  # taken in and planned
        client = await logged_in(Dashboard(s, token=TOKEN))
        jobs = (await client.get("/")).text
        job = (await client.get("/job", key=f"k{XSS}")).text
        searched = (await client.get("/", name=XSS)).text
    for html in (jobs, job, searched):
        assert XSS not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert rows(searched) == ["k&lt;script&gt;alert(1)&lt;/script&gt;"]


async def test_metrics_page_shows_counters_gauges_and_histograms(autojump_clock: object) -> None:
    async with running() as s:
        job = await s.add_job(tk.Interval(1), noop, key="tick")
        with s.subscribe(tk.RunFinished) as finished:
            for _ in range(3):
                await finished.receive()
        await s.pause_job(job)
        reply = await Client(Dashboard(s)).get("/metrics")
    html = reply.text
    assert reply.status == 200
    assert '<td id="m-runs_succeeded">3</td>' in html
    assert '<td id="m-jobs_paused">1</td>' in html
    assert '<td id="m-workers_max">2</td>' in html
    assert html.count("<svg") == 2
    assert "Dispatch lateness" in html
    assert "Run duration" in html
    assert re.search(r"<title>≤ 1ms: 3</title>", html)  # three runs in the first bucket


async def test_replicas_page_without_a_shared_store_says_so(autojump_clock: object) -> None:
    async with running() as s:
        reply = await Client(Dashboard(s)).get("/replicas")
    assert reply.status == 200
    assert "MemoryStore" in reply.text
    assert "runs alone" in reply.text


async def test_security_headers_and_static_files(autojump_clock: object) -> None:
    async with running() as s:
        client = Client(Dashboard(s))
        page = await client.get("/")
        css = await client.get("/static/dashboard.css")
        js = await client.get("/static/dashboard.js")
        missing = await client.get("/static/../_app.py")
    policy = page.header("content-security-policy") or ""
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.header("x-content-type-options") == "nosniff"
    assert css.header("content-type") == "text/css; charset=utf-8"
    assert b"body" in css.body
    assert js.header("content-type") == "text/javascript; charset=utf-8"
    assert missing.status == 404


async def test_unknown_pages_and_wrong_methods_are_the_dashboards_pages_without_a_thread(
    autojump_clock: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio.to_thread

    async def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("the dashboard handed work to a worker thread")

    # Starlette's own 404/405 handler runs in a worker thread in older releases.
    monkeypatch.setattr(anyio.to_thread, "run_sync", no_thread)
    async with running() as s:
        client = Client(Dashboard(s, token=TOKEN))
        nowhere = await client.get("/nowhere")
        wrong_method = await client.get("/actions/pause")
        logout_by_get = await client.get("/logout")
    assert nowhere.status == 404
    assert "no such page" in nowhere.text
    assert nowhere.header("content-security-policy")  # the dashboard's own page and headers
    assert (wrong_method.status, logout_by_get.status) == (405, 405)
    assert "does not answer a GET request" in wrong_method.text
    assert wrong_method.header("allow") == "POST"


async def test_mounted_under_a_prefix_links_stay_under_it(autojump_clock: object) -> None:
    async with running() as s:
        await s.add_job(tk.Interval(60), noop, key="tick")
        await settle()  # taken in and planned
        client = Client(Dashboard(s, token=TOKEN), root="/ops/dash")
        html = (await client.get("/")).text
        login = await client.post("/login", {"token": TOKEN})
        paused = await client.post(
            "/actions/pause", {"key": "tick", "csrf": csrf_of((await client.get("/")).text)}
        )
    assert 'href="/ops/dash/static/dashboard.css"' in html
    assert 'href="/ops/dash/job?key=tick"' in html
    assert 'data-events="/ops/dash/events"' in html
    assert login.header("location") == "/ops/dash/"
    assert "Path=/ops/dash/" in (login.header("set-cookie") or "")
    assert paused.header("location") == "/ops/dash/job?key=tick&done=paused"


# ------------------------------------------------------------------ login and actions


async def test_read_only_dashboard_refuses_every_action_and_offers_no_login(
    autojump_clock: object,
) -> None:
    async with running() as s:
        job = await s.add_job(tk.Interval(60), noop, key="tick")
        await settle()  # taken in and planned
        client = Client(Dashboard(s))
        assert (await client.get("/login")).status == 403
        assert (await client.post("/login", {"token": TOKEN})).status == 403
        for action in ("pause", "resume", "trigger", "cancel", "interrupt"):
            reply = await client.post(f"/actions/{action}", {"key": "tick", "csrf": "x"})
            assert reply.status == 403
            assert "read-only" in reply.text
        assert s.get_job_details(job).state is tk.JobState.SCHEDULED
        assert s.get_job_details(job).runs == 0


async def test_the_login_page_is_not_live(autojump_clock: object) -> None:
    async with running() as s:
        client = Client(Dashboard(s, token=TOKEN))
        login = (await client.get("/login")).text
        jobs = (await client.get("/")).text
    assert "data-events" not in login  # a refresh would wipe the token being typed
    assert 'data-events="/events"' in jobs


async def test_login_sets_an_httponly_samesite_strict_session_cookie(
    autojump_clock: object,
) -> None:
    async with running() as s:
        app = Dashboard(s, token=TOKEN)
        client = Client(app)
        wrong = await client.post("/login", {"token": "not-the-token-at-all"})
        assert wrong.status == 403
        assert "not the token" in wrong.text
        assert not client.cookies
        reply = await client.post("/login", {"token": TOKEN})
        secure = await Client(app, scheme="https").post("/login", {"token": TOKEN})
    cookie = reply.header("set-cookie") or ""
    assert reply.status == 303
    assert "turnkeeper_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http, as on localhost
    assert "Secure" in (secure.header("set-cookie") or "")  # over https (or behind a proxy)
    assert TOKEN not in cookie  # the token itself never leaves the login form


async def test_behind_a_trusted_proxy_the_cookie_is_secure(autojump_clock: object) -> None:
    from hypercorn.middleware import ProxyFixMiddleware

    async with running() as s:
        dashboard: Any = Dashboard(s, token=TOKEN)  # hypercorn's ASGI types are narrower
        app: Any = ProxyFixMiddleware(dashboard, mode="legacy", trusted_hops=1)
        client = Client(app)
        reply = await client.request(
            "POST", "/login", form={"token": TOKEN}, headers={"x-forwarded-proto": "https"}
        )
    assert reply.status == 303
    assert "Secure" in (reply.header("set-cookie") or "")


async def test_actions_need_a_session_and_the_csrf_token(autojump_clock: object) -> None:
    async with running() as s:
        job = await s.add_job(tk.Interval(60), noop, key="tick")
        await settle()  # taken in and planned
        app = Dashboard(s, token=TOKEN)
        anonymous = await Client(app).post("/actions/pause", {"key": "tick"})
        assert anonymous.status == 403
        assert "Log in" in anonymous.text
        client = await logged_in(app)
        csrf = csrf_of((await client.get("/")).text)
        no_csrf = await client.post("/actions/pause", {"key": "tick"})
        wrong_csrf = await client.post("/actions/pause", {"key": "tick", "csrf": "0" * 64})
        odd = await client.post("/actions/pause", {"key": "tick", "csrf": "é" * 64})
        assert odd.status == 403  # any characters are refused, not an error
        accented = Client(app, cookies={"turnkeeper_session": "1.é.é"})
        assert (await accented.post("/actions/pause", {"key": "tick", "csrf": "x"})).status == 403
        forged = Client(app, cookies={"turnkeeper_session": "1.abc.def"})
        forged_reply = await forged.post("/actions/pause", {"key": "tick", "csrf": csrf})
        as_get = await client.get("/actions/pause")
        as_json = await client.post(
            "/actions/pause", body=b'{"key": "tick"}', content_type="application/json"
        )
        for reply in (no_csrf, wrong_csrf, forged_reply):
            assert reply.status == 403
        assert "CSRF" in no_csrf.text
        assert "Log in" in forged_reply.text
        assert (as_get.status, as_json.status) == (405, 415)
        assert s.get_job_details(job).state is tk.JobState.SCHEDULED  # nothing happened

        paused = await client.post("/actions/pause", {"key": "tick", "csrf": csrf})
        assert paused.status == 303
        assert s.get_job_details(job).state is tk.JobState.PAUSED
        assert "Done: paused." in (await client.get(paused.header("location") or "")).text
        other_session = await logged_in(app)  # a CSRF token belongs to its own session
        assert (
            await other_session.post("/actions/resume", {"key": "tick", "csrf": csrf})
        ).status == 403
        resumed = await client.post("/actions/resume", {"key": "tick", "csrf": csrf})
        assert resumed.status == 303
        assert s.get_job_details(job).state is tk.JobState.SCHEDULED


async def test_trigger_cancel_and_interrupt_from_the_page(autojump_clock: object) -> None:
    async with running() as s:
        manual = await s.add_job(tk.Never(), noop, key="manual")
        long = await s.add_job(tk.Never(), slow, key="long")
        await settle()  # taken in and planned
        client = await logged_in(Dashboard(s, token=TOKEN))
        csrf = csrf_of((await client.get("/")).text)
        with s.subscribe(tk.RunFinished) as finished:
            reply = await client.post("/actions/trigger", {"key": "manual", "csrf": csrf})
            assert reply.status == 303
            event = await finished.receive()
        assert event.job_id == manual
        assert s.get_job_details(manual).runs == 1
        with s.subscribe(tk.RunStarted) as started:
            await client.post("/actions/trigger", {"key": "long", "csrf": csrf})
            await started.receive()
        page = (await client.get("/job", key="long")).text
        assert 'data-action="interrupt"' in page  # offered while it runs
        with s.subscribe(tk.RunFinished) as finished:
            interrupted = await client.post("/actions/interrupt", {"key": "long", "csrf": csrf})
            assert interrupted.status == 303
            assert interrupted.header("location") == "/job?key=long&done=interrupted"
            assert (await finished.receive()).outcome is tk.Outcome.CANCELLED
        assert s.get_job_details(long).state is tk.JobState.SCHEDULED  # only the attempt ended
        # Not running now: nothing to interrupt, and the page says so.
        idle = await client.post("/actions/interrupt", {"key": "long", "csrf": csrf})
        assert idle.header("location") == "/job?key=long&done=not-running"
        said = (await client.get(idle.header("location") or "")).text
        assert "Nothing was running: there was no attempt to interrupt." in said
        assert "Done: interrupted" not in said
        cancelled = await client.post("/actions/cancel", {"key": "manual", "csrf": csrf})
        assert cancelled.status == 303
        assert s.get_job_details(manual).state is tk.JobState.CANCELLED
        again = await client.post("/actions/trigger", {"key": "manual", "csrf": csrf})
        assert again.status == 409
        assert "cancelled" in again.text
        with s.subscribe(tk.RunStarted) as started:
            await client.post("/actions/trigger", {"key": "long", "csrf": csrf})
            await started.receive()
        page = (await client.get("/job", key="long")).text
        assert "Cancel and interrupt" in page
        form = {"key": "long", "csrf": csrf, "interrupt": "1"}
        with s.subscribe(tk.RunFinished) as finished:
            assert (await client.post("/actions/cancel", form)).status == 303
            assert (await finished.receive()).outcome is tk.Outcome.CANCELLED
        assert s.get_job_details(long).state is tk.JobState.CANCELLED
        assert s.get_job_details(long).last_runs[-1].outcome is tk.Outcome.CANCELLED
        assert s.get_job_details(long).runs == 2
        unknown = await client.post("/actions/reboot", {"key": "manual", "csrf": csrf})
        missing = await client.post("/actions/pause", {"key": "gone", "csrf": csrf})
        assert (unknown.status, missing.status) == (404, 404)


async def test_action_redirects_only_within_the_dashboard(autojump_clock: object) -> None:
    async with running() as s:
        client, csrf = await ticking_session(s)
        inside = await client.post(
            "/actions/pause", {"key": "tick", "csrf": csrf, "back": "/?state=paused"}
        )
        outside = await client.post(
            "/actions/resume", {"key": "tick", "csrf": csrf, "back": "//evil.example/"}
        )
        no_back = await client.post("/actions/trigger", {"key": "tick", "csrf": csrf})
    assert inside.header("location") == "/?state=paused&done=paused"
    assert outside.header("location") == "/?done=resumed"  # the dashboard's root
    assert no_back.header("location") == "/job?key=tick&done=triggered"  # the job's page


@pytest.mark.parametrize(
    "back",
    [
        "/ops/dash/..//evil.example/",  # resolves to //evil.example/: another host
        "//evil.example/",
        "/\\evil.example/",  # a browser reads the backslash as a slash
        "/ops/dash/\\/evil.example/",
        "/ops/dash/../../evil",
        "/ops/dash/%2e%2e/%2E%2E/evil",  # browsers resolve encoded dots as ".."
        "/ops/dash/.%2e/other-app/",
        "/ops/dash/%2f%2fevil.example/",
        "https://evil.example/ops/dash/",
        "http:/ops/dash/",
        "javascript:alert(1)//ops/dash/",
        "/ops/dashboard-other/",
        "/ops/dash",
        "/ops/other/",
        "/ops/dash/\r\nSet-Cookie: x=1",
        "ops/dash/job",
        "",
    ],
)
async def test_action_redirects_never_leave_the_mount_path(
    back: str, autojump_clock: object
) -> None:
    reply = await _pause_and_go_back(back)
    assert reply.status == 303
    assert reply.header("location") == "/ops/dash/?done=paused"


@pytest.mark.parametrize(
    ("back", "location"),
    [
        ("/ops/dash/?state=paused&page=2", "/ops/dash/?state=paused&page=2&done=paused"),
        ("/ops/dash/job?key=tick", "/ops/dash/job?key=tick&done=paused"),
        ("/ops/dash/metrics/../job?key=tick#runs", "/ops/dash/job?key=tick&done=paused"),
        ("/ops/dash/./", "/ops/dash/?done=paused"),
    ],
)
async def test_action_redirects_to_the_normalized_page_within_the_mount(
    back: str, location: str, autojump_clock: object
) -> None:
    reply = await _pause_and_go_back(back)
    assert reply.header("location") == location


async def _pause_and_go_back(back: str) -> Any:
    """Pause a job from a dashboard mounted at ``/ops/dash``, asking to go back to *back*."""
    async with running() as s:
        await s.add_job(tk.Interval(60), noop, key="tick")
        await settle()
        client = Client(Dashboard(s, token=TOKEN), root="/ops/dash")
        await client.post("/login", {"token": TOKEN})
        csrf = csrf_of((await client.get("/")).text)
        return await client.post("/actions/pause", {"key": "tick", "csrf": csrf, "back": back})


async def test_sessions_hold_across_replicas_with_the_token_and_expire(
    autojump_clock: object,
) -> None:
    async with running() as a, running() as b:
        await a.add_job(tk.Interval(60), noop, key="tick")
        await b.add_job(tk.Interval(60), noop, key="tick")
        await settle()
        on_b = Dashboard(b, token=TOKEN)  # replicas serve their dashboards from their start
        client = await logged_in(Dashboard(a, token=TOKEN))
        csrf = csrf_of((await client.get("/")).text)
        other = Client(on_b, cookies=dict(client.cookies))
        paused = await other.post("/actions/pause", {"key": "tick", "csrf": csrf})
        assert paused.status == 303  # the same token signs the same sessions, on any replica
        assert b.get_job_details(b.list_all_jobs()[0].id).state is tk.JobState.PAUSED
        rotated = Client(Dashboard(b, token=TOKEN + "-rotated"), cookies=dict(client.cookies))
        assert (await rotated.post("/actions/resume", {"key": "tick", "csrf": csrf})).status == 403

        assert isinstance(a.wall_clock, MockWallClock)
        a.wall_clock.jump(12 * 3600 - 10)  # a login lasts session_max_age (12 h by default)
        assert (await client.get("/")).text.count('name="csrf"') > 1  # still logged in
        a.wall_clock.jump(11)
        expired = await client.post("/actions/pause", {"key": "tick", "csrf": csrf})
        assert expired.status == 403
        assert "Log in" in expired.text
        assert a.get_job_details(a.list_all_jobs()[0].id).state is tk.JobState.SCHEDULED


async def test_logout_needs_csrf_and_ends_the_session(autojump_clock: object) -> None:
    async with running() as s:
        client, csrf = await ticking_session(s)
        assert (await client.post("/logout", {})).status == 403
        assert (await client.post("/logout", {"csrf": csrf})).status == 303
        assert not client.cookies
        assert "Log in" in (await client.get("/")).text
        assert (await client.post("/actions/pause", {"key": "tick", "csrf": csrf})).status == 403


async def test_logout_ends_the_session_on_the_server_not_only_in_the_browser(
    autojump_clock: object,
) -> None:
    async with running() as s:
        job = await s.add_job(tk.Interval(60), noop, key="tick")
        await settle()
        app = Dashboard(s, token=TOKEN)
        client = await logged_in(app)
        csrf = csrf_of((await client.get("/")).text)
        copied = Client(app, cookies=dict(client.cookies))  # e.g. taken from the browser
        other = await logged_in(app)  # another operator's session
        other_csrf = csrf_of((await other.get("/")).text)
        assert (await client.post("/logout", {"csrf": csrf})).status == 303
        replayed = await copied.post("/actions/pause", {"key": "tick", "csrf": csrf})
        assert replayed.status == 403
        assert "Log in" in replayed.text
        assert 'name="csrf"' not in (await copied.get("/")).text  # shown as logged out
        assert (await copied.post("/logout", {"csrf": csrf})).status == 403
        assert s.get_job_details(job).state is tk.JobState.SCHEDULED  # nothing was done
        paused = await other.post("/actions/pause", {"key": "tick", "csrf": other_csrf})
        assert paused.status == 303  # only that one session ended
        again = await logged_in(app)  # and logging in again works at once
        again_csrf = csrf_of((await again.get("/")).text)
        resumed = await again.post("/actions/resume", {"key": "tick", "csrf": again_csrf})
        assert resumed.status == 303


async def test_revoke_sessions_ends_every_session_and_a_restart_does_too(
    autojump_clock: object,
) -> None:
    async with running() as s:
        await s.add_job(tk.Interval(60), noop, key="tick")
        await settle()
        app = Dashboard(s, token=TOKEN)
        first, second = await logged_in(app), await logged_in(app)
        csrfs = [csrf_of((await c.get("/")).text) for c in (first, second)]
        app.revoke_sessions()
        for client, csrf in zip((first, second), csrfs, strict=True):
            reply = await client.post("/actions/pause", {"key": "tick", "csrf": csrf})
            assert reply.status == 403
        fresh = await logged_in(app)  # at once, in the same second
        fresh_csrf = csrf_of((await fresh.get("/")).text)
        assert (
            await fresh.post("/actions/pause", {"key": "tick", "csrf": fresh_csrf})
        ).status == 303
        # A dashboard made later (the process restarted) does not know who logged out
        # before, so it accepts no session from before it started.
        await trio.sleep(5)
        restarted = Dashboard(s, token=TOKEN)
        old = Client(restarted, cookies=dict(fresh.cookies))
        assert (
            await old.post("/actions/resume", {"key": "tick", "csrf": fresh_csrf})
        ).status == 403
        Dashboard(s).revoke_sessions()  # read-only: nothing to end


def test_ended_sessions_are_remembered_in_bounded_memory_and_stay_ended() -> None:
    now = [1_800_000_000.0]
    sessions = Sessions(TOKEN, 3600, lambda: now[0], max_ended=5)
    kept = sessions.check(sessions.issue())
    assert kept is not None
    ended = []
    for _ in range(8):
        now[0] += 1
        cookie = sessions.issue()
        session = sessions.check(cookie)
        assert session is not None
        sessions.end(session)
        ended.append(cookie)
        assert sessions.ended <= 5
    assert all(sessions.check(cookie) is None for cookie in ended)  # remembered or cut off
    # The oldest ended ones were forgotten by moving the cutoff past them, which ends the
    # sessions as old as they are too: bounded memory never lets an ended session back in.
    assert sessions.check(sessions.issue()) is not None
    assert sessions.not_before > kept.issued
    now[0] += 3601  # expired ones are forgotten first
    fresh = sessions.check(sessions.issue())
    assert fresh is not None
    sessions.end(fresh)
    assert sessions.ended == 1


# ------------------------------------------------------------------ live updates


async def test_event_stream_sends_updates_and_ends_when_the_scheduler_stops(
    autojump_clock: object,
) -> None:
    messages: list[bytes] = []
    statuses: list[int] = []
    gone = trio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif message.get("body"):
            messages.append(message["body"])

    scope = {"type": "http", "method": "GET", "path": "/events", "root_path": "", "headers": []}
    async with running() as s, trio.open_nursery() as nursery:
        app = Dashboard(s)
        nursery.start_soon(app, scope, receive, send)
        await trio.testing.wait_all_tasks_blocked()  # the stream has subscribed
        await s.add_job(tk.Never(), noop, key="manual")
        with s.subscribe(tk.RunFinished) as finished:
            await s.trigger_job(await s.add_job(tk.Never(), noop, key="other"))
            await finished.receive()
        await trio.testing.wait_all_tasks_blocked()  # the stream has sent it
        await s.shutdown_graceful()
    text = b"".join(messages).decode()
    assert statuses == [200]
    updates = [json.loads(m[len("data: ") :]) for m in re.findall(r"^data: .*$", text, re.M)]
    seen = [event for update in updates for event in update.get("events", [])]
    assert {"type": "JobAdded", "key": "manual", "name": "noop"} in seen
    assert {"type": "RunFinished", "key": "other", "name": "noop", "outcome": "succeeded"} in seen
    assert text.rstrip().endswith("event: closed\ndata: {}")


async def test_event_stream_keeps_alive_when_idle_and_stops_when_the_client_leaves(
    autojump_clock: object,
) -> None:
    leave = trio.Event()
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        await leave.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        chunks.append(message.get("body", b""))

    scope = {"type": "http", "method": "GET", "path": "/events", "root_path": "", "headers": []}
    async with running() as s:
        app = Dashboard(s)
        with trio.fail_after(120):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(app, scope, receive, send)
                await trio.sleep(61)  # idle: keep-alive comments only, every 15 s
                leave.set()
        assert b"".join(chunks).count(b": keep-alive\n\n") == 4
        assert chunks[-1] == b""  # the response was ended
        assert s.get_metrics_snapshot().events_dropped == 0


# ------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (" " * 20, "token is blank"),
        ("\t\n" * 10, "token is blank"),
        ("", "token is empty"),
        ("short", "token must be at least 16 characters"),
        ("a" * 40, "token must have at least 5 different characters"),
        ("abab" * 8, "token must have at least 5 different characters"),
        (TOKEN + "\n", "token must not start or end with whitespace"),
        (" " + TOKEN, "token must not start or end with whitespace"),
    ],
)
async def test_weak_tokens_are_refused_saying_how_to_make_a_good_one(
    token: str, problem: str, autojump_clock: object
) -> None:
    async with running() as s:
        with pytest.raises(ValueError, match=problem) as refused:
            Dashboard(s, token=token)
    assert isinstance(refused.value, tk.InvalidArgument)
    assert "secrets.token_urlsafe(32)" in str(refused.value)


async def test_bad_arguments_are_typed_errors_naming_them(autojump_clock: object) -> None:
    async with running() as s:
        with pytest.raises(TypeError, match="scheduler must be"):
            Dashboard("scheduler")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="token must be"):
            Dashboard(s, token=12345678901234567)  # type: ignore[arg-type]
        with pytest.raises(tk.InvalidArgument, match="token must be at least 16"):
            Dashboard(s, token="short")
        with pytest.raises(tk.InvalidArgument, match="page_size"):
            Dashboard(s, page_size=0)
        with pytest.raises(TypeError, match="page_size"):
            Dashboard(s, page_size="50")  # type: ignore[arg-type]
        with pytest.raises(tk.InvalidArgument, match="session_max_age"):
            Dashboard(s, session_max_age=1)
        assert Dashboard(s).read_only
        assert not Dashboard(s, token=TOKEN).read_only
