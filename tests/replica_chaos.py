"""The chaos test: replicas of a service on one PostgreSQL server, under a seeded nemesis.

``run_chaos`` starts replica ``a`` alone until it holds every job's lease, starts four
more (``b`` with its clock 5 minutes ahead, ``c`` 5 minutes behind, ``d``, and the
commander ``e``) and at the same moment SIGKILLs ``a`` for good: the others must take its
jobs over within the lease ttl.  Then, for *duration* seconds, a nemesis driven by *seed*
SIGKILLs and restarts a replica, SIGSTOPs one past its lease and SIGCONTs it, terminates a
replica's database connections (``pg_terminate_backend``) and restarts the server
(``pg_ctl restart -m immediate``), while the commander pauses, updates and triggers.  At the
end everything settles, the replicas stop, and ``tests.chaos_check`` judges the rows.

``python -m tests.replica_chaos [--seed N] [--duration S]`` (``nox -s chaos``) runs it
against a throwaway server and prints the seed, the figures and the verdict.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import trio

from tests.chaos_check import Disruption, Effect, Observed, Outcome, Verdict, check
from tests.pg import Cluster

JOBS = 9
ROLES = {"a": (0.0, "plain"), "b": (300.0, "plain"), "c": (-300.0, "plain"), "d": (0.0, "plain")}
ROLES["e"] = (0.0, "commander")

_TABLES = """
CREATE TABLE effects (
    id bigserial PRIMARY KEY, job_key text, occurrence text, scheduled_for float8,
    run_id bigint, attempt int, pid int, label text, triggered boolean,
    started_at float8, ended_at float8
);
CREATE TABLE commands_log (id bigserial PRIMARY KEY, kind text, detail text, at float8)
"""


def _db_time(dsn: str) -> float:
    for attempt in range(100):
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                row = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
                assert row is not None
                return float(row[0])
        except psycopg.OperationalError:
            time.sleep(0.1 * min(attempt + 1, 5))
    raise RuntimeError("the server did not come back")


class Replicas:
    """The replica processes, by name."""

    def __init__(self, dsn: str, anchor: float, ttl: float, logs: Path) -> None:
        self.dsn, self.anchor, self.ttl, self.logs = dsn, anchor, ttl, logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        skew, role = ROLES[name]
        old = self.procs.get(name)
        if old is not None:
            old.kill()  # killed already (or it exits now): reap it
            old.wait()
        with (self.logs / f"replica-{name}.log").open("ab") as log:  # the child keeps a copy
            self.procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.replica_child",
                    self.dsn,
                    repr(self.anchor),
                    repr(self.ttl),
                    repr(skew),
                    role,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def signal(self, name: str, sig: int) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.kill(proc.pid, sig)

    def application(self, name: str) -> str:
        """The prefix of the application name of *name*'s store connections."""
        return f"turnkeeper_trio {socket.gethostname()}:{self.procs[name].pid}:"

    def stop_all(self) -> None:
        for name in self.procs:
            self.signal(name, signal.SIGCONT)
            self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _running(dsn: str) -> int:
    """How many attempts have started their effect and not ended it."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM effects WHERE ended_at IS NULL").fetchone()
    return 0 if row is None else int(row[0])


def _holders(dsn: str) -> tuple[int, set[str]]:
    """How many jobs have a live lease, and which replicas hold them."""
    with psycopg.connect(dsn) as conn:
        if conn.execute("SELECT to_regclass('turnkeeper_jobs')").fetchone() == (None,):
            return 0, set()  # the first replica has not created the schema yet
        rows = conn.execute(
            "SELECT owner FROM turnkeeper_jobs WHERE lease_until > now()"
        ).fetchall()
    return len(rows), {owner for (owner,) in rows}


async def run_chaos(
    cluster: Cluster, *, seed: int, duration: float, ttl: float, log: Any = print
) -> tuple[Observed, Verdict]:
    """Run the workload under the nemesis and judge it; return the observations and verdict."""
    rng = random.Random(seed)
    dsn = cluster.database()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in _TABLES.split(";"):
            conn.execute(statement)
    anchor = math.floor(_db_time(dsn)) + 3.0  # the grids' start, once every replica is up
    group = Replicas(dsn, anchor, ttl, cluster.root)
    disruptions: list[Disruption] = []
    try:
        group.start("a")
        with trio.fail_after(30):
            while True:
                count, owners = _holders(dsn)
                if count == JOBS and len(owners) == 1:
                    (first,) = owners
                    break
                await trio.sleep(0.1)
        # Kill the holder of every lease while an attempt of it runs, so the first
        # disruption cuts one (its rerun elsewhere is what the vacuity check looks for).
        with trio.fail_after(30):
            while True:
                if _running(dsn):
                    break
                await trio.sleep(0.05)  # another process's database rows: nothing to wait on
        for name in "bcde":
            group.start(name)
        at = _db_time(dsn)
        group.signal("a", signal.SIGKILL)  # the holder of every lease, never restarted
        disruptions.append(Disruption("kill-holder", at, at))
        log(f"seed {seed}: killed a (holding all {JOBS} leases, mid-attempt); b..e starting")
        # Takeover: every job held again by a live replica (and running) within ttl + 1 s.
        with trio.fail_after(ttl + 15):
            while True:
                count, owners = _holders(dsn)
                if count == JOBS and first not in owners:
                    break
                await trio.sleep(0.05)
        takeover = _db_time(dsn) - at
        # The survivors start as a dies: the jobs may be taken once a's leases have lapsed
        # and a survivor is up (registered), and must be within a second of that.
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT extract(epoch FROM min(started_at))::float8 FROM turnkeeper_replicas "
                "WHERE id <> %s",
                (first,),
            ).fetchone()
        assert row is not None
        takeable = max(ttl, float(row[0]) - at)
        log(f"taken over in {takeover:.2f} s (takeable after {takeable:.2f} s)")
        end = trio.current_time() + duration
        restarts = 0
        while trio.current_time() < end:
            await trio.sleep(rng.uniform(1.0, 2.5))
            action = rng.choice(["kill", "kill", "stop", "stop", "terminate", "pg-restart"])
            victim = rng.choice("bcd")
            at = _db_time(dsn)
            if action == "kill":
                group.signal(victim, signal.SIGKILL)
                await trio.sleep(0.3)
                group.start(victim)
                disruptions.append(Disruption(f"kill {victim}", at, _db_time(dsn)))
            elif action == "stop":
                group.signal(victim, signal.SIGSTOP)
                await trio.sleep(ttl + 1.0)
                group.signal(victim, signal.SIGCONT)
                disruptions.append(Disruption(f"stop {victim}", at, _db_time(dsn)))
            elif action == "terminate":
                killed = await trio.to_thread.run_sync(cluster.terminate, group.application(victim))
                disruptions.append(Disruption(f"terminate {victim} ({killed})", at, at))
            elif restarts < 2:
                restarts += 1
                await trio.to_thread.run_sync(cluster.restart_immediate)
                disruptions.append(Disruption("pg-restart", at, _db_time(dsn)))
            else:
                continue
            log(f"  {disruptions[-1].kind} at {at - anchor:.2f}")
        # Settle: nothing disrupted for a while, so every occurrence so far gets its turn.
        await trio.sleep(ttl + 3.0)
        window_end = _db_time(dsn) - (ttl + 2.5)
    finally:
        await trio.to_thread.run_sync(group.stop_all)
    with psycopg.connect(dsn) as conn:
        effects = [
            Effect(*row)
            for row in conn.execute(
                "SELECT job_key, occurrence, scheduled_for, run_id, attempt, pid, label, "
                "triggered, started_at, ended_at FROM effects ORDER BY id"
            ).fetchall()
        ]
        outcomes = [
            Outcome(*row)
            for row in conn.execute(
                "SELECT job_key, run_id, scheduled_for, outcome, (data->>'triggered')::boolean "
                "FROM turnkeeper_runs ORDER BY id"
            ).fetchall()
        ]
        added: dict[str, float] = dict(
            conn.execute(
                "SELECT key, (definition->>'added_at')::float8 FROM turnkeeper_jobs"
            ).fetchall()
        )
        commands = [
            (kind, at, detail)
            for kind, detail, at in conn.execute(
                "SELECT kind, detail, at FROM commands_log ORDER BY id"
            ).fetchall()
        ]
    observed = Observed(effects, outcomes, disruptions, commands, anchor, window_end, ttl, added)
    verdict = check(observed)
    verdict.figures["takeover_s"] = round(takeover, 3)
    verdict.figures["takeover_bound_s"] = round(takeable + 1.0, 3)
    if takeover > takeable + 1.0:
        verdict.failures.append(
            f"takeover after the holder's death took {takeover:.2f} s, more than a second "
            f"after the jobs could be taken ({takeable:.2f} s)"
        )
    log(f"seed {seed}: figures {verdict.figures}")
    log(f"seed {seed}: verdict {'PASS' if verdict.ok else 'FAIL'}")
    for failure in verdict.failures:
        log(f"  {failure}")
    return observed, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--ttl", type=float, default=2.0)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    cluster = Cluster().start()
    try:
        _, verdict = trio.run(
            lambda: run_chaos(cluster, seed=seed, duration=args.duration, ttl=args.ttl)
        )
    finally:
        cluster.stop()
    sys.exit(0 if verdict.ok else 1)


if __name__ == "__main__":
    main()
