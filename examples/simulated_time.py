"""Testing a scheduled job with simulated time (shown in docs/testing.md).

``tests/test_examples.py`` runs this test, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import trio

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

PARIS = ZoneInfo("Europe/Paris")


async def test_report_runs_on_weekday_mornings(autojump_clock: object) -> None:
    wall = MockWallClock(datetime(2026, 3, 27, 8, 0, tzinfo=PARIS))  # a Friday
    sent: list[datetime] = []

    async def send_report() -> None:
        sent.append(wall.now())

    async with tk.open_scheduler(max_workers=1, wall_clock=wall) as s:
        await s.add_job(tk.Cron("0 9 * * MON-FRI", tz=PARIS), send_report)
        await trio.sleep(timedelta(days=4, hours=2).total_seconds())  # instant

    assert [d.strftime("%a %H:%M %z") for d in sent] == [
        "Fri 09:00 +0100",
        "Mon 09:00 +0200",  # the clocks changed on Sunday: still 09:00 in Paris
        "Tue 09:00 +0200",
    ]
