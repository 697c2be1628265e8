"""Queue strategies: unit behaviour and a stateful comparison with a sorted-list model."""

from __future__ import annotations

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


STATEFUL = settings(max_examples=200, stateful_step_count=50)
TestHeapQueue = STATEFUL(HeapQueueMachine).TestCase
TestIndexedHeapQueue = STATEFUL(IndexedHeapQueueMachine).TestCase


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
