"""A scheduler's side of a replicated store: its leases, other replicas' changes, commands.

``Replica`` runs three tasks in the scheduler's nursery:

* ``turnkeeper-leases`` renews every lease this replica holds in one statement each
  ``lease_ttl / 3``, takes the jobs whose lease lapsed (another replica died) and a fair share
  of those nobody holds, and gives back what is above its share.  A lease that did not
  renew is lost: the coordinator stops running that job and cancels its attempt.  If the
  database cannot be reached, every attempt is cancelled when the leases would lapse by
  Trio's clock (``lease_deadline``), before another replica can take them over;
* ``turnkeeper-listen`` waits for ``NOTIFY`` on the listening connection;
* ``turnkeeper-refresh`` then reads what changed (``max_sleep`` at the latest), shows other
  replicas' jobs as they stored them, and applies the commands posted for jobs held here.

A command for a job another replica holds is posted to the store; ``command`` returns once
the holder has applied it (or this replica took the job over and applied it itself).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ._exceptions import JobFinished, JobNotLoaded
from ._functions import Functions
from ._job import Job, JobSpec, Run
from ._models import JobId
from ._postgres import Command, PostgresStore
from ._store import StoreError
from ._submission import Signatures

if TYPE_CHECKING:
    from ._coordinator import Coordinator

__all__ = ["Replica"]

_FIELD = {"async_fn": "fn"}
#: The least time between two reads of other replicas' changes (seconds).
REFRESH_GAP = 0.05
#: Lease rounds after taking leases (or adding a job) before balancing gives any back: the
#: count of live replicas may still include one that died (its heartbeat lapses with its
#: leases), and jobs just added may not be counted yet.
TAKEOVER_ROUNDS = 3


@attrs.define(eq=False)
class Replica:
    """Leases, refreshes and commands of a scheduler on a replicated store (internal)."""

    store: PostgresStore
    coordinator: Coordinator
    new_id: Callable[[str], JobId]
    signatures: Signatures
    max_sleep: float
    log: logging.Logger
    #: Trio time by which every lease held here may have lapsed (a margin before the ttl).
    lease_deadline: float = -math.inf
    #: The database's clock at the latest write (POSIX seconds).
    db_now: float = 0.0
    #: Commands applied here (a command is applied once, however often it is read).
    applied: set[int] = attrs.field(factory=set)
    _scopes: dict[str, trio.CancelScope] = attrs.field(factory=dict)
    _kick: trio.Event = attrs.field(factory=trio.Event)
    _changed: trio.Event = attrs.field(factory=trio.Event)
    _refreshed: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)
    _outbox: list[tuple[str, str, dict[str, Any]]] = attrs.field(factory=list)
    #: Unparked after each lease round and each post of the outbox.
    _progress: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot)

    @property
    def ttl(self) -> float:
        """The store's lease ttl."""
        return self.store.lease_ttl

    @property
    def margin(self) -> float:
        """How long before its lease lapses an attempt is cancelled, if renewals fail."""
        return min(1.0, self.ttl * 0.2)

    # ------------------------------------------------------------------ leases

    async def start(self) -> None:
        """The first round, before the scheduler reports started: take a share of jobs."""
        await self._round()

    async def leases(self) -> None:
        """Renew, take over and balance leases, every ``lease_ttl / 3`` (or when woken)."""
        while True:
            try:
                next_expiry = await self._round()
                wait = self.ttl / 3
                if next_expiry is not None:
                    wait = min(wait, next_expiry + 0.01)
            except StoreError as exc:
                self.log.warning("lease renewal failed: %s", exc)
                if trio.current_time() >= self.lease_deadline:
                    self._lose_all()
                wait = min(0.25, self.ttl / 6)
            with trio.move_on_after(wait):
                await self._kick.wait()
            self._kick = trio.Event()

    async def stop(self) -> None:
        """At shutdown, once everything is written: give every lease back."""
        try:
            with trio.move_on_after(self.ttl / 3):
                await self.store.release()
        except StoreError as exc:  # they lapse after the ttl instead
            self.log.warning("could not give the leases back at shutdown: %s", exc)

    def _lose_all(self) -> None:
        held = set(self.store.held)
        if held:
            self.log.error(
                "the leases of %d job(s) lapsed (the database could not be reached): their "
                "attempts are cancelled here; other replicas take them over",
                len(held),
            )
            self.store.forget(held)
            self.coordinator.lose(held)

    async def _round(self) -> float | None:
        started = sent = trio.current_time()
        lost = await self.store.renew()
        self.lease_deadline = sent + self.ttl - self.margin
        for scope in self._scopes.values():
            scope.deadline = self.lease_deadline
        self.coordinator.lose(lost)
        live = await self.store.live_replicas()
        # Jobs this replica added (committed, so held) may not be counted yet.
        total = max(self.store.live_jobs, len(self.store.held))
        share = math.ceil(total / live) if live > 1 else total
        while True:
            # A takeover goes in bounded batches, and the round ends (to renew) before the
            # leases taken so far could lapse: a share larger than a ttl's worth of work is
            # taken gradually, and never lost.
            sent = trio.current_time()
            acquired = await self.store.acquire(
                self.coordinator.unrunnable(), max(share - len(self.store.held), 0)
            )
            if acquired.jobs:
                self.lease_deadline = min(self.lease_deadline, sent + self.ttl - self.margin)
                self.coordinator.take_over(acquired, self.new_id)
            if not acquired.more:
                break
            if trio.current_time() - started > self.ttl / 6:
                self.wake()  # the next round right away, renewing first
                break
        await self._balance(share)
        self._progress.unpark_all()
        # Read other replicas' changes each round too: a NOTIFY lost with a connection
        # then costs a third of the ttl, not max_sleep.
        self._changed.set()
        return acquired.next_expiry

    async def _balance(self, share: int) -> None:
        """Give back idle jobs above this replica's share (one more is tolerated).

        Nothing is given back within ``TAKEOVER_ROUNDS`` rounds of a takeover, nor a job
        added in that time: a survivor that has just taken a dead replica's jobs does not
        hand jobs back while the count of live replicas may still include the dead one, and
        a replica does not give back the jobs it has just added before they are counted.
        """
        store = self.store
        excess = len(store.held) - share - 1
        if excess <= 0 or store.rounds - store.last_takeover < TAKEOVER_ROUNDS:
            return
        idle = []
        for key in store.held:
            job = self._job(key)
            if (
                job is not None
                and job.status.run is None
                and not store.taken_recently(key, TAKEOVER_ROUNDS)
            ):
                idle.append(key)
                if len(idle) == excess:
                    break
        if not idle:
            return
        # Shown, not run, from now on; written before the leases are given back.
        keys = set(idle)
        self.coordinator.lose(keys, release=True)
        journal = self.coordinator.journal
        assert journal is not None
        # Not shielded: a shutdown that begins meanwhile cancels the wait (the rows are
        # written by the shutdown's own flush, and the leases lapse or are released then).
        await journal.wait_saved(shield=False)
        try:
            await self.store.release(keys)
        except StoreError:
            self.store.forget(keys)  # not renewed any more: they lapse, and are taken again
            raise

    def _job(self, key: str) -> Job | None:
        job_id = self.coordinator.keys.get(key)
        return None if job_id is None else self.coordinator.table.get(job_id)

    def attempt_scope(self, run: Run) -> trio.CancelScope:
        """The scope that ends *run* when its job's lease runs out (renewals move it)."""
        scope = trio.CancelScope(deadline=self.lease_deadline)
        self._scopes[run.job.id.key] = scope
        return scope

    def attempt_over(self, run: Run) -> None:
        """*run* has ended: its scope no longer follows the renewals."""
        key = run.job.id.key
        if self._scopes.get(key) is run.lease_scope:
            del self._scopes[key]

    def early_by(self, run: Run) -> float:
        """Seconds until the database's clock reaches *run*'s occurrence (<= 0: due)."""
        if run.triggered or run.attempt > 1:
            return 0.0
        return run.scheduled_for.timestamp() + run.offset - self.db_now

    def wake(self) -> None:
        """Run a lease round now (another replica gave jobs back)."""
        self._kick.set()

    # ------------------------------------------------------------------ other replicas

    async def listen(self) -> None:
        """Wake the refresh on each ``NOTIFY``; reconnect (and refresh) when it breaks."""
        delay = 0.1
        while True:
            try:
                await self.store.wait_notified()
                delay = 0.1
            except StoreError as exc:
                self.log.warning("listening for other replicas failed: %s", exc)
                await trio.sleep(delay)
                delay = min(delay * 2, 2.0)
            self._changed.set()

    def refresh_soon(self) -> None:
        """Read other replicas' changes now."""
        self._changed.set()

    async def refresh(self) -> None:
        """Show other replicas' changes and apply commands, when notified or every max_sleep.

        Notifications that arrive while a refresh runs, or within ``REFRESH_GAP`` of it, are
        served by one more refresh: under load every write notifies, and one read per
        ``REFRESH_GAP`` is what keeps the other replicas current without a read per write.
        """
        while True:
            with trio.move_on_after(self.max_sleep):
                await self._changed.wait()
            self._changed = trio.Event()
            try:
                await self.refresh_now()
                await self._post_outbox()
            except StoreError as exc:
                self.log.warning("reading other replicas' changes failed: %s", exc)
                with trio.move_on_after(0.5):
                    await self._kick.wait()
            await trio.sleep(REFRESH_GAP)

    async def refresh_now(self) -> None:
        """Read and show what changed now."""
        changes = await self.store.changes()
        if self.coordinator.refresh(changes, self.new_id):
            self.wake()  # a job nobody holds: take it
        self._refreshed.unpark_all()

    # ------------------------------------------------------------------ commands

    def post_later(self, job: Job, kind: str, payload: dict[str, Any]) -> None:
        """Post a command from synchronous code (the refresh task sends it)."""
        self._outbox.append((job.id.key, kind, payload))
        self._changed.set()

    def take_outbox(self, key: str) -> list[Command]:
        """Take back the commands not yet posted for *key* (this replica now holds it)."""
        mine = [Command(0, k, kind, payload) for k, kind, payload in self._outbox if k == key]
        if mine:
            self._outbox = [item for item in self._outbox if item[0] != key]
            self._progress.unpark_all()
        return mine

    async def _post_outbox(self) -> None:
        while self._outbox:
            item = self._outbox[0]
            await self.store.post(*item)
            if self._outbox and self._outbox[0] is item:  # unless taken back meanwhile
                del self._outbox[0]
        self._progress.unpark_all()

    async def settled(self, key: str) -> None:
        """Wait (a lease ttl at most) until what ``add_job`` asked of *key* has gone out.

        A re-added key of a job another replica holds posts its new definition; one that
        nobody could load is taken over and repaired here.  Shielded: the job was accepted.
        """
        with trio.CancelScope(shield=True), trio.move_on_after(self.ttl + 1.0):
            while key in self.coordinator.repairs or any(k == key for k, _, _ in self._outbox):
                self.wake()
                self._changed.set()
                await self._progress.park()

    async def command(self, job: Job, kind: str, payload: dict[str, Any]) -> None:
        """Post a command for *job* and return once it is applied, wherever it is held.

        Raises ``JobNotLoaded`` if this replica cannot run the job and no replica holds it
        (nobody could apply the command).
        """
        if job.broken is not None and not await self.store.holder_live(job.id.key):
            raise JobNotLoaded(
                f"cannot {kind} {job.id} (key {job.id.key!r}): no replica holds it, and it "
                f"cannot run in this process ({job.error.message if job.error else '?'})"
            )
        command_id = await self.store.post(job.id.key, kind, payload)
        while True:
            applied, held = await self.store.applied(command_id)
            if applied:
                break
            if not held:
                await self.refresh_now()
                if job.status.phase.is_final:  # it ended meanwhile, on another replica
                    raise JobFinished(f"cannot {kind} {job.id}: the job is {job.state.value}")
                self.wake()  # nobody holds it: take it, and apply the command here
            with trio.move_on_after(self.ttl / 3):
                await self._refreshed.park()
        if job.remote is not None:
            await self.refresh_now()  # so that this replica shows it at once

    def apply(self, coordinator: Coordinator, job: Job, command: Command) -> None:
        """Apply a posted *command* to *job*, held here."""
        kind, payload = command.kind, command.payload
        job_id = job.id
        if kind == "pause":
            coordinator.pause(job_id)
        elif kind == "resume":
            coordinator.resume(job_id)
        elif kind == "cancel":
            coordinator.cancel(job_id, interrupt=bool(payload.get("interrupt")))
        elif kind == "interrupt":
            coordinator.interrupt(job_id)
        elif kind == "trigger":
            coordinator.trigger(job_id, payload.get("idempotency_key"))
        elif kind == "update":
            definition = payload["definition"]
            changes = {
                name: self._decode(name, definition.get(_FIELD.get(name, name), 0.0))
                if name == "jitter"
                else self._decode(name, definition[_FIELD.get(name, name)])
                for name in payload["changed"]
            }
            coordinator.update(job_id, changes, self.signatures)
        elif kind == "redefine":
            coordinator.ingest(self._spec(job, payload["definition"]))
        else:
            raise ValueError(f"unknown command {kind!r}")

    @property
    def functions(self) -> Functions:
        """The functions this process registered: the only ones a command may name."""
        return self.coordinator.functions()

    def _decode(self, name: str, value: Any) -> Any:
        codecs = self.store.codecs
        if name == "async_fn":
            return self.functions.resolve(value)
        if name == "args":
            return tuple(value)
        if name in ("schedule", "lifetime", "misfire"):
            return codecs.decode(value)
        if name == "retry":
            return codecs.decode_optional(value)
        return value

    def _spec(self, job: Job, d: dict[str, Any]) -> JobSpec:
        return JobSpec(
            id=job.id,
            name=d["name"],
            schedule=self._decode("schedule", d["schedule"]),
            fn=self.functions.resolve(d["fn"]),
            args=tuple(d["args"]),
            retry=self._decode("retry", d["retry"]),
            timeout=d["timeout"],
            lifetime=self._decode("lifetime", d["lifetime"]),
            misfire=self._decode("misfire", d["misfire"]),
            quarantine_after=d["quarantine_after"],
            submitted_at=datetime.fromtimestamp(d["added_at"], UTC),
            on_crash=d["on_crash"],
            definition=d,
            attach=True,
            jitter=float(d.get("jitter", 0.0)),
        )
