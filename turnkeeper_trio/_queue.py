"""Queue strategies: the coordinator's ordered set of upcoming occurrences.

Each job has at most one entry, keyed by an int, ordered by its due instant (a POSIX
timestamp) and then by insertion order.  The two strategies support the same operations and
differ in cost:

==================  ==================  ========================================
operation           HeapQueue           IndexedHeapQueue
==================  ==================  ========================================
push (new or move)  O(log n)            O(log n)
remove              O(1), lazy          O(log n), eager
peek / pop          amortised O(log n)  O(log n)
memory              + stale entries     + a position map
==================  ==================  ========================================

``HeapQueue`` leaves removed and moved entries in the heap as *stale* entries and discards
them when they reach the front, or all at once when they outnumber the live entries (more
than twice as many plus 1000); ``stale_entries`` counts them (shown in the metrics).
"""

from __future__ import annotations

import heapq
import itertools
from abc import ABC, abstractmethod

__all__ = ["HeapQueue", "IndexedHeapQueue", "JobQueue"]


class JobQueue(ABC):
    """Protocol of a queue strategy: four methods and no state of its own.

    One instance serves one scheduler (the scheduler checks; pass a new queue to each).
    ``__len__`` and ``__contains__`` are not required; the built-in queues have them.

    Example:
        ```python
        class FifoQueue(tk.abc.JobQueue):   # implement push, remove, peek and pop
            ...

        tk.open_scheduler(max_workers=4, queue=FifoQueue())
        ```
    """

    __slots__ = ()

    @abstractmethod
    def push(self, key: int, due: float) -> None:
        """Insert *key* at *due*, or move it there if it is already queued."""

    @abstractmethod
    def remove(self, key: int) -> None:
        """Remove *key* if it is queued; do nothing otherwise."""

    @abstractmethod
    def peek(self) -> tuple[float, int] | None:
        """Return ``(due, key)`` of the earliest entry without removing it, or ``None``."""

    @abstractmethod
    def pop(self) -> tuple[float, int]:
        """Remove and return the earliest ``(due, key)``. Raises ``IndexError`` if empty."""

    @property
    def stale_entries(self) -> int:
        """Entries kept in memory that no longer count (always 0 for eager queues)."""
        return 0


class HeapQueue(JobQueue):
    """A binary heap with lazy deletion: O(1) cancel, stale entries dropped at the front.

    Best when cancellations and updates are rare compared to runs.

    Example:
        ```python
        async with tk.open_scheduler(max_workers=8, queue=tk.HeapQueue()) as s:
            ...   # O(1) cancel; watch get_metrics_snapshot().queue_stale_entries
        ```
    """

    __slots__ = ("__weakref__", "_counter", "_heap", "_live")

    def __init__(self) -> None:
        # Entries are (due, seq, key); an entry is live iff _live[key] == its seq.
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, int] = {}
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return f"HeapQueue(len={len(self._live)}, stale={self.stale_entries})"

    #: Rebuild once the heap holds more than twice the live entries plus this many (the rule
    #: of trio's own lazy deadline heap): memory stays within a constant factor of the live
    #: entries, and the O(n) rebuild is amortised over the n removals that made it due.
    _PRUNE_SLACK = 1000

    def push(self, key: int, due: float) -> None:
        """Insert or move *key*; a moved key leaves a stale entry behind."""
        seq = next(self._counter)
        self._live[key] = seq
        heapq.heappush(self._heap, (due, seq, key))
        self._maybe_prune()

    def remove(self, key: int) -> None:
        """Forget *key* in O(1); its heap entry becomes stale."""
        if self._live.pop(key, None) is not None:
            self._maybe_prune()

    def _maybe_prune(self) -> None:
        if len(self._heap) > 2 * len(self._live) + self._PRUNE_SLACK:
            live = self._live
            self._heap = [entry for entry in self._heap if live.get(entry[2]) == entry[1]]
            heapq.heapify(self._heap)

    def _discard_stale(self) -> None:
        heap, live = self._heap, self._live
        while heap:
            _, seq, key = heap[0]
            if live.get(key) == seq:
                return
            heapq.heappop(heap)

    def peek(self) -> tuple[float, int] | None:
        """Return the earliest live entry, discarding stale ones on the way."""
        self._discard_stale()
        if not self._heap:
            return None
        due, _, key = self._heap[0]
        return due, key

    def pop(self) -> tuple[float, int]:
        """Remove and return the earliest live entry."""
        self._discard_stale()
        due, _, key = heapq.heappop(self._heap)
        del self._live[key]
        return due, key

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def __len__(self) -> int:
        return len(self._live)

    @property
    def stale_entries(self) -> int:
        """Heap entries of removed or moved keys, not yet discarded."""
        return len(self._heap) - len(self._live)


class IndexedHeapQueue(JobQueue):
    """A binary heap with a position map: eager O(log n) remove and move, no stale entries.

    The default: memory stays proportional to the live jobs however many are cancelled or
    updated.

    Example:
        ```python
        async with tk.open_scheduler(max_workers=8, queue=tk.IndexedHeapQueue()) as s:
            ...   # the default: eager O(log n) cancel and update
        ```
    """

    __slots__ = ("__weakref__", "_counter", "_heap", "_pos")

    def __init__(self) -> None:
        # Entries are (due, seq, key) tuples; _pos maps key -> index in _heap.
        self._heap: list[tuple[float, int, int]] = []
        self._pos: dict[int, int] = {}
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return f"IndexedHeapQueue(len={len(self._heap)})"

    def _sift_up(self, index: int, top: int = 0) -> None:
        """Move the entry at *index* up towards *top* until its parent is not later."""
        heap, pos = self._heap, self._pos
        entry = heap[index]
        while index > top:
            parent = (index - 1) >> 1
            above = heap[parent]
            if entry < above:
                heap[index] = above
                pos[above[2]] = index
                index = parent
            else:
                break
        heap[index] = entry
        pos[entry[2]] = index

    def _sift_down(self, index: int) -> None:
        """Restore the heap below *index*.

        As in the standard library's ``heapq``: move the hole down to a leaf along the
        earlier children (one comparison per level), then sift the entry up from there.
        The entry usually belongs near the bottom, so this halves the comparisons.
        """
        heap, pos = self._heap, self._pos
        size = len(heap)
        entry = heap[index]
        top = index
        child = 2 * index + 1
        while child < size:
            right = child + 1
            if right < size and not heap[child] < heap[right]:
                child = right
            below = heap[child]
            heap[index] = below
            pos[below[2]] = index
            index = child
            child = 2 * index + 1
        heap[index] = entry
        self._sift_up(index, top)

    def push(self, key: int, due: float) -> None:
        """Insert *key*, or move it in place if it is already queued."""
        entry = (due, next(self._counter), key)
        index = self._pos.get(key)
        if index is None:
            self._heap.append(entry)
            self._sift_up(len(self._heap) - 1)
            return
        old = self._heap[index]
        self._heap[index] = entry
        if entry < old:
            self._sift_up(index)
        else:
            self._sift_down(index)

    def remove(self, key: int) -> None:
        """Remove *key* now, in O(log n)."""
        index = self._pos.pop(key, None)
        if index is None:
            return
        heap = self._heap
        last = heap.pop()
        if index == len(heap):
            return
        heap[index] = last
        self._pos[last[2]] = index
        if index and last < heap[(index - 1) >> 1]:
            self._sift_up(index)
        else:
            self._sift_down(index)

    def peek(self) -> tuple[float, int] | None:
        """Return the earliest entry."""
        if not self._heap:
            return None
        due, _, key = self._heap[0]
        return due, key

    def pop(self) -> tuple[float, int]:
        """Remove and return the earliest entry."""
        due, _, key = self._heap[0]
        self.remove(key)
        return due, key

    def __contains__(self, key: object) -> bool:
        return key in self._pos

    def __len__(self) -> int:
        return len(self._heap)
