"""Queue strategies: unit behaviour and a stateful comparison with a sorted-list model."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest
import trio
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import turnkeeper_trio as tk
from turnkeeper_trio.testing import MockWallClock

#: The built-in strategies, which also answer ``len()`` and ``in``.
BuiltInQueue = tk.HeapQueue | tk.IndexedHeapQueue
STRATEGIES: list[Callable[[], BuiltInQueue]] = [tk.HeapQueue, tk.IndexedHeapQueue]


@pytest.mark.parametrize("make", STRATEGIES)
def test_orders_by_due_then_insertion(make: Callable[[], BuiltInQueue]) -> None:
    queue = make()
    queue.push(1, 30.0)
    queue.push(2, 10.0)
    queue.push(3, 10.0)
    queue.push(4, 20.0)
    assert [queue.pop() for _ in range(4)] == [(10.0, 2), (10.0, 3), (20.0, 4), (30.0, 1)]
    assert queue.peek() is None
    with pytest.raises(IndexError):
        queue.pop()


@pytest.mark.parametrize("make", STRATEGIES)
def test_move_and_remove(make: Callable[[], BuiltInQueue]) -> None:
    queue = make()
    for key in range(5):
        queue.push(key, float(key))
    queue.push(0, 10.0)  # move later
    queue.push(4, -1.0)  # move earlier
    queue.remove(2)
    queue.remove(2)  # idempotent
    queue.remove(99)  # unknown: nothing happens
    assert len(queue) == 4
    assert 2 not in queue
    assert 4 in queue
    assert [queue.pop()[1] for _ in range(4)] == [4, 1, 3, 0]


def test_heap_queue_counts_and_discards_stale_entries() -> None:
    queue = tk.HeapQueue()
    for key in range(4):
        queue.push(key, float(key))
    queue.remove(0)
    queue.push(1, 9.0)
    queue.remove(3)
    assert queue.stale_entries == 3  # two removed entries and the moved one's old entry
    assert queue.peek() == (2.0, 2)  # discards the stale entries at the front
    assert queue.stale_entries == 1  # key 3's entry is behind the front: still there
    assert "stale=1" in repr(queue)


def test_indexed_heap_queue_never_holds_stale_entries() -> None:
    queue = tk.IndexedHeapQueue()
    for key in range(100):
        queue.push(key, float(key % 7))
    for key in range(0, 100, 2):
        queue.remove(key)
    assert queue.stale_entries == 0
    assert len(queue) == 50


class QueueMachine(RuleBasedStateMachine):
    """Drive a queue strategy and a plain dict model with the same operations."""

    make: Callable[[], BuiltInQueue]

    def __init__(self) -> None:
        super().__init__()
        self.queue = self.make()
        self.model: dict[int, tuple[float, int]] = {}
        self.seq = 0

    @rule(key=st.integers(0, 20), due=st.integers(0, 50).map(float))
    def push(self, key: int, due: float) -> None:
        self.queue.push(key, due)
        self.model[key] = (due, self.seq)
        self.seq += 1

    @rule(key=st.integers(0, 20))
    def remove(self, key: int) -> None:
        self.queue.remove(key)
        self.model.pop(key, None)

    @precondition(lambda self: self.model)
    @rule()
    def pop(self) -> None:
        due, key = self.queue.pop()
        expected_key = min(self.model, key=lambda k: self.model[k])
        assert (due, key) == (self.model[expected_key][0], expected_key)
        del self.model[key]

    @invariant()
    def agrees_with_model(self) -> None:
        assert len(self.queue) == len(self.model)
        for key in range(21):
            assert (key in self.queue) == (key in self.model)
        front = self.queue.peek()
        if self.model:
            expected_key = min(self.model, key=lambda k: self.model[k])
            assert front == (self.model[expected_key][0], expected_key)
        else:
            assert front is None


class HeapQueueMachine(QueueMachine):
    make = tk.HeapQueue


class IndexedHeapQueueMachine(QueueMachine):
    make = tk.IndexedHeapQueue


class TinyBlocks(tk.IndexedHeapQueue):
    """The same layout with blocks of a few entries: every step splits or joins some."""

    _SPLIT = 4
    _MERGE = 2


class TinyBlocksMachine(QueueMachine):
    make = TinyBlocks


STATEFUL = settings(max_examples=200, stateful_step_count=50)
TestHeapQueue = STATEFUL(HeapQueueMachine).TestCase
TestIndexedHeapQueue = STATEFUL(IndexedHeapQueueMachine).TestCase
TestIndexedHeapQueueTinyBlocks = STATEFUL(TinyBlocksMachine).TestCase


@pytest.mark.parametrize("make", [*STRATEGIES, TinyBlocks])
def test_many_entries_come_out_in_order_after_moves_and_removals(
    make: Callable[[], BuiltInQueue],
) -> None:
    # Enough entries for the real block sizes to split and join many times over.
    rng = random.Random(17)
    queue = make()
    model: dict[int, tuple[float, int]] = {}
    for seq in range(30_000):
        key = rng.randrange(12_000)
        if rng.random() < 0.3:
            queue.remove(key)
            model.pop(key, None)
        else:
            due = float(rng.randrange(-500, 5_000)) / 4  # many ties, and negative instants
            queue.push(key, due)
            model[key] = (due, seq)
    assert len(queue) == len(model)
    expected = sorted(model, key=lambda k: model[k])
    assert [queue.pop() for _ in range(len(model))] == [(model[k][0], k) for k in expected]
    assert queue.peek() is None


def test_indexed_heap_queue_keeps_every_float_exactly() -> None:
    queue = tk.IndexedHeapQueue()
    dues = [1.7e9 + 0.123456789, -1e-300, 0.0, -0.0, 5e-324, -2.5, math.inf, -math.inf]
    for key, due in enumerate(dues):
        queue.push(key, due)
    popped = [queue.pop() for _ in dues]
    assert [due for due, _ in popped] == sorted(dues)
    assert [key for _, key in popped][:3] == [7, 5, 1]  # -inf, -2.5, -1e-300


@pytest.mark.parametrize("key", [-1, 2**64])
def test_indexed_heap_queue_refuses_keys_out_of_range(key: int) -> None:
    with pytest.raises(ValueError, match="key must be an int from 0 to 2\\*\\*64 - 1"):
        tk.IndexedHeapQueue().push(key, 1.0)


@pytest.mark.parametrize(("key", "due"), [(1.5, 1.0), ("1", 1.0), (1, "soon"), (1, None)])
def test_indexed_heap_queue_refuses_keys_and_dues_of_the_wrong_type(
    key: object, due: object
) -> None:
    queue = tk.IndexedHeapQueue()
    with pytest.raises(TypeError, match="push: key must be an int and due a float"):
        queue.push(key, due)  # type: ignore[arg-type]
    assert len(queue) == 0


def test_indexed_heap_queue_refuses_a_nan_due() -> None:
    queue = tk.IndexedHeapQueue()
    queue.push(1, 5.0)
    with pytest.raises(ValueError, match="due must not be NaN"):
        queue.push(1, math.nan)
    with pytest.raises(ValueError, match="due must not be NaN"):
        queue.push(2, math.nan)
    assert len(queue) == 1
    assert queue.pop() == (5.0, 1)  # the refused move left the entry where it was


class MinimalQueue(tk.abc.JobQueue):
    """A custom strategy with only the four methods, no ``super().__init__()``."""

    def __init__(self) -> None:
        self.entries: dict[int, float] = {}

    def push(self, key: int, due: float) -> None:
        self.entries[key] = due

    def remove(self, key: int) -> None:
        self.entries.pop(key, None)

    def peek(self) -> tuple[float, int] | None:
        if not self.entries:
            return None
        key = min(self.entries, key=lambda k: (self.entries[k], k))
        return self.entries[key], key

    def pop(self) -> tuple[float, int]:
        front = self.peek()
        if front is None:
            raise IndexError("empty")
        del self.entries[front[1]]
        return front


async def test_a_custom_queue_needs_only_the_four_methods(
    autojump_clock: object, wall: MockWallClock
) -> None:
    runs: list[float] = []

    async def job() -> None:
        runs.append(trio.current_time())

    queue = MinimalQueue()
    async with tk.open_scheduler(max_workers=1, wall_clock=wall, queue=queue) as s:
        await s.add_job(tk.Interval(10), job)
        await trio.sleep(35)
    assert runs == [10, 20, 30]
    with pytest.raises(tk.InvalidArgument, match="already serves another scheduler"):
        tk.Scheduler(max_workers=1, queue=queue)
