"""The dashboard in headless Chromium: clicks, live updates, refusals, escaping, screenshots.

Each test serves a real scheduler with ``Dashboard`` through hypercorn's trio worker
(``tests/browser.py``) and checks what an operator sees and what the scheduler did. The
screenshots land in ``build/screenshots`` (or ``$TURNKEEPER_ARTIFACTS``).
"""

from __future__ import annotations

from typing import Any

import trio

import turnkeeper_trio as tk
from tests.browser import ARTIFACTS, Service, browser, expect

__all__ = ["browser"]  # the fixture

TOKEN = "browser-test-token-0123456789"
XSS = "<script>alert(1)</script>"
KEYS: dict[str, tk.JobId] = {}


async def report() -> None:
    await trio.sleep(0.05)


async def rebuild() -> None:
    await trio.sleep(0.3)


async def flaky() -> None:
    raise RuntimeError("upstream said <b>503</b>")


async def jobs(scheduler: tk.Scheduler) -> None:
    """A small service's jobs: a cron report, a poller, a manual job, a failing one."""
    KEYS.clear()
    KEYS["report"] = await scheduler.add_job(
        tk.Cron("0 9 * * mon-fri"), report, name="daily-report", key="daily-report"
    )
    KEYS["poll"] = await scheduler.add_job(tk.Interval(0.2), report, name="poll", key="poll")
    KEYS["rebuild"] = await scheduler.add_job(
        tk.Never(), rebuild, name="rebuild-index", key="rebuild-index"
    )
    KEYS["flaky"] = await scheduler.add_job(
        tk.Interval(1), flaky, name="flaky-sync", key="flaky-sync"
    )
    KEYS["xss"] = await scheduler.add_job(tk.Interval(3600), report, name=XSS, key="xss")
    for n in range(60):
        await scheduler.add_job(tk.Interval(600 + n), report, name=f"batch-{n:02}")


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def new_page(browser: Any) -> tuple[Any, Any, list[str]]:
    """A fresh context (no cookies) and page; JavaScript dialogs are recorded, then dismissed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", on_dialog)
    page.set_default_timeout(10_000)
    return context, page, dialogs


def login(page: Any, url: str, *, screenshot: bool = False) -> None:
    page.goto(f"{url}/login")
    if screenshot:
        shot(page, "login")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_pause_from_the_jobs_page_pauses_the_job(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context, page, _ = new_page(browser)
        login(page, service.url, screenshot=True)
        shot(page, "jobs", full_page=False)  # the first screenful of 65 jobs
        page.fill("input[name=name]", "daily")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**name=daily**")
        row = page.locator("tr[data-key='daily-report']")
        assert row.locator("span.state").inner_text() == "scheduled"
        # The State column is laid out as the others: the badge's style stays on the badge.
        cell_style = (
            "cell => { const s = getComputedStyle(cell); return [s.borderBottomStyle, "
            "s.borderBottomWidth, s.borderBottomColor, s.verticalAlign, s.display, s.padding]; }"
        )
        assert row.locator("td.state").evaluate(cell_style) == row.locator("td.name").evaluate(
            cell_style
        )
        assert row.locator("td.state").evaluate(cell_style)[3] == "top"
        page.wait_for_selector("#live[data-state='on']")  # the event stream is connected
        row.locator("button[data-action='pause']").click()
        page.wait_for_url("**/?name=daily*done=paused")  # back where the click was
        assert "Done: paused." in page.inner_text("main")
        assert row.locator("span.state").inner_text() == "paused"
        assert service.details(KEYS["report"]).state is tk.JobState.PAUSED
        page.click("tr[data-key='daily-report'] td.name a")
        page.wait_for_url("**/job?key=daily-report")
        assert page.locator("#job-state").inner_text() == "paused"
        page.click("button[data-action='resume']")
        page.wait_for_url("**done=resumed")
        assert page.locator("#job-state").inner_text() == "scheduled"
        assert service.details(KEYS["report"]).state is tk.JobState.SCHEDULED
        context.close()


def test_a_triggered_run_appears_live(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context, page, _ = new_page(browser)
        login(page, service.url)
        page.goto(f"{service.url}/job?key=rebuild-index")
        page.wait_for_selector("#live[data-state='on']")
        assert "No runs yet." in page.inner_text("#runs")
        page.evaluate("window.notReloaded = true")
        assert service.scheduler is not None
        service.call(service.scheduler.trigger_job, KEYS["rebuild"])  # another operator
        page.wait_for_selector("#runs td .outcome-succeeded")
        assert page.evaluate("window.notReloaded") is True  # updated in place, not reloaded
        assert "(triggered)" in page.inner_text("#runs")
        # And from the page itself: the run appears after the redirect, live again.
        page.click("button[data-action='trigger']")
        page.wait_for_url("**done=triggered")
        expect(page.locator("#runs .outcome-succeeded")).to_have_count(2)
        assert service.details(KEYS["rebuild"]).runs == 2
        shot(page, "job")
        page.goto(f"{service.url}/job?key=flaky-sync")
        page.wait_for_selector("#runs .outcome-errored")
        page.locator("#runs details").first.click()
        shot(page, "job-error")
        context.close()


def test_actions_without_the_token_are_refused(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context, page, _ = new_page(browser)
        page.goto(f"{service.url}/")
        assert page.locator("button[data-action]").count() == 0  # no buttons before login
        assert page.locator("a[href='/login']").is_visible()
        refused = page.request.post(
            f"{service.url}/actions/pause", form={"key": "daily-report", "csrf": "guess"}
        )
        assert refused.status == 403
        login(page, service.url)  # now logged in: a forged form still fails
        forged = (
            f'<form method="post" action="{service.url}/actions/cancel">'
            '<input name="key" value="daily-report"></form>'
        )
        page.set_content(forged)  # from the dashboard's own origin: the cookie goes along
        page.evaluate("document.forms[0].submit()")
        page.wait_for_load_state()
        assert "CSRF token is missing or wrong" in page.inner_text("main")
        # From another site (localhost is another site than 127.0.0.1): SameSite=Strict keeps
        # the session cookie from being sent at all.
        page.goto(service.url.replace("127.0.0.1", "localhost") + "/static/dashboard.css")
        page.set_content(forged)
        page.evaluate("document.forms[0].submit()")
        page.wait_for_load_state()
        assert "Log in with the dashboard's token first" in page.inner_text("main")
        assert service.details(KEYS["report"]).state is tk.JobState.SCHEDULED
        context.close()
    with Service(jobs) as read_only:  # no token: read-only, no login at all
        context, page, _ = new_page(browser)
        page.goto(f"{read_only.url}/")
        assert page.inner_text(".badge") == "read-only"
        assert page.locator("button[data-action]").count() == 0
        refused = page.request.post(
            f"{read_only.url}/actions/trigger", form={"key": "rebuild-index"}
        )
        assert refused.status == 403
        assert "read-only" in refused.text()
        assert read_only.details(KEYS["rebuild"]).runs == 0
        context.close()


def test_a_job_named_like_a_script_renders_as_text(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context, page, dialogs = new_page(browser)
        login(page, service.url)
        page.goto(f"{service.url}/?name=script")
        cell = page.locator("tr[data-key='xss'] td.name")
        assert cell.inner_text() == XSS
        page.goto(f"{service.url}/job?key=xss")
        assert page.locator("h1").inner_text().startswith(XSS)
        page.goto(f"{service.url}/job?key=flaky-sync")
        page.wait_for_selector("#runs .outcome-errored")
        assert "upstream said <b>503</b>" in page.inner_text("#runs")
        assert page.locator("#runs b:text('503')").count() == 0  # no <b> element was made
        assert dialogs == []  # no alert() ran
        context.close()


def test_metrics_and_replicas_pages_render(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context, page, _ = new_page(browser)
        page.goto(f"{service.url}/metrics")
        expect(page.locator("#m-runs_started")).not_to_have_text("0")
        assert page.locator("svg").count() == 2
        assert page.locator("svg rect.bar").count() > 0
        shot(page, "metrics")
        page.goto(f"{service.url}/replicas")
        assert "MemoryStore" in page.inner_text("main")
        page.goto(f"{service.url}/?page=2")
        assert "page 2 of 2" in page.inner_text("nav.pages")
        context.close()


def test_replicas_page_lists_the_replicas_of_a_postgres_store(browser: Any, pg_dsn: str) -> None:
    with Service(jobs, store=tk.PostgresStore(pg_dsn, lease_ttl=3)) as service:
        context, page, _ = new_page(browser)
        page.goto(f"{service.url}/replicas")
        row = page.locator("table.replicas tbody tr")
        assert row.count() == 1
        assert "(this one)" in row.inner_text()
        assert "live" in row.inner_text()
        expect(row.locator("td").nth(5)).to_have_text("65")  # it holds every job
        shot(page, "replicas")
        context.close()


def test_pages_read_completely_without_javascript(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{service.url}/?name=daily")
        row = page.locator("tr[data-key='daily-report']")
        assert "At 09:00, Monday through Friday" in row.inner_text()
        assert row.locator("td.next").inner_text().endswith("09:00:00 UTC")  # UTC, not local
        assert page.inner_text("#live") == "updates: refresh"  # the manual refresh link
        page.click("#live a")
        page.goto(f"{service.url}/job?key=flaky-sync")
        assert page.locator("ol.fires li").count() == 10
        page.goto(f"{service.url}/metrics")
        assert page.locator("svg").count() == 2
        context.close()


def test_live_updates_never_wipe_what_the_operator_is_typing(browser: Any) -> None:
    with Service(jobs, token=TOKEN) as service:
        context, page, _ = new_page(browser)
        page.goto(f"{service.url}/metrics")
        page.wait_for_selector("#live[data-state='on']")
        before = int(page.inner_text("#m-runs_started"))
        expect(page.locator("#m-runs_started")).not_to_have_text(str(before))  # it is live
        page.goto(f"{service.url}/")
        page.wait_for_selector("#live[data-state='on']")
        page.fill("input[name=name]", "dai")
        page.click("h1")  # the field loses focus, keeping its unsent text
        page.wait_for_timeout(2500)  # the poll job's runs report events all along
        assert page.input_value("input[name=name]") == "dai"
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**name=dai*")
        assert page.locator("tr[data-key='daily-report']").count() == 1
        context.close()


def test_the_example_service_mounts_the_dashboard(browser: Any) -> None:
    from examples import web_service

    with Service(web_service.add_jobs, app=lambda s: web_service.service_app(s, TOKEN)) as service:
        context, page, _ = new_page(browser)
        page.goto(f"{service.url}/dashboard/login")
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"{service.url}/dashboard/")
        page.wait_for_selector("#live[data-state='on']")  # the stream, under the mount path
        row = page.locator("tr", has_text="rebuild-index")
        row.locator("button[data-action='pause']").click()
        page.wait_for_url("**/dashboard/?done=paused")
        assert row.locator("span.state").inner_text() == "paused"
        api = page.request.get(f"{service.url}/jobs").json()  # the service's own route
        assert {job["name"]: job["state"] for job in api}["rebuild-index"] == "paused"
        context.close()
