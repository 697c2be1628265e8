"""Queue strategies: the coordinator's ordered set of upcoming occurrences.

Each job has at most one entry, keyed by an int, ordered by its due instant (a POSIX
timestamp) and then by insertion order.  The two strategies support the same operations and
differ in cost:

==================  ==================  ========================================
operation           HeapQueue           IndexedHeapQueue
==================  ==================  ========================================
push (new or move)  O(log n)            O(log n)
remove              O(1), lazy          O(log n), eager
peek / pop          amortised O(log n)  O(1) / amortised O(1)
memory              + stale entries     + a key map
==================  ==================  ========================================

``HeapQueue`` leaves removed and moved entries in the heap as *stale* entries and discards
them when they reach the front, or all at once when they outnumber the live entries (more
than twice as many plus 1000); ``stale_entries`` counts them (shown in the metrics).
``IndexedHeapQueue`` keeps only live entries, in sorted blocks searched by bisection.
"""

from __future__ import annotations

import heapq
import itertools
import struct
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right, insort

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
    """An eagerly ordered index: O(log n) remove and move, no stale entries.

    The default: memory stays proportional to the live jobs however many are cancelled or
    updated.  Keys are ints from 0 to ``2**64 - 1`` (the scheduler's job numbers).

    Example:
        ```python
        async with tk.open_scheduler(max_workers=8, queue=tk.IndexedHeapQueue()) as s:
            ...   # the default: eager O(log n) cancel and update
        ```
    """

    # The name is older than the layout.  This was an indexed binary heap; its sift loops ran
    # in Python, some 20 levels at a million entries, and a cancel of an early job cost more
    # than the rest of the cancel together.  The entries are now sorted runs ("blocks") of
    # plain ints, the layout of the sortedcontainers library's SortedList: every search is a
    # C-level bisection (O(log n) comparisons) and every move a C-level shift of at most
    # _SPLIT references, so no operation loops in Python over the entries.  Each entry is one
    # int that sorts as (due, insertion order) and carries its key in the low 64 bits:
    # comparing two ints is much cheaper than comparing tuples of floats, and an int is
    # smaller than the tuple with its parts.

    __slots__ = ("__weakref__", "_blocks", "_counter", "_entries", "_lasts")

    #: A block is split in two above this many entries, and joined with a neighbour below
    #: _MERGE: short enough that shifting one is a small memmove, long enough that the list
    #: of blocks stays short (some 2,000 blocks at a million entries).
    _SPLIT = 1024
    _MERGE = 64

    def __init__(self) -> None:
        #: Sorted, non-empty runs of entries; every entry of a block sorts before the next's.
        self._blocks: list[list[int]] = []
        #: The last entry of each block: bisected to find the block of an entry.
        self._lasts: list[int] = []
        #: key -> its entry.
        self._entries: dict[int, int] = {}
        self._counter = itertools.count()

    def __repr__(self) -> str:
        return f"IndexedHeapQueue(len={len(self._entries)})"

    def push(self, key: int, due: float) -> None:
        """Insert *key*, or move it if it is already queued, in O(log n)."""
        try:
            entry = (((_sortable(due) << 64) | next(self._counter)) << 64) | key
        except TypeError:
            raise TypeError(
                f"push: key must be an int and due a float, got {key!r} and {due!r}"
            ) from None
        if not 0 <= key <= _KEY_MASK:
            raise ValueError(f"key must be an int from 0 to 2**64 - 1, not {key!r}")
        entries = self._entries
        old = entries.get(key)
        if old is not None:
            self._discard(old)
        entries[key] = entry
        lasts = self._lasts
        index = bisect_right(lasts, entry)
        if index == len(lasts):  # after every entry (the common case: a later due)
            if not lasts:
                self._blocks.append([entry])
                lasts.append(entry)
                return
            index -= 1
            block = self._blocks[index]
            block.append(entry)
            lasts[index] = entry
        else:
            block = self._blocks[index]
            insort(block, entry)
        if len(block) > self._SPLIT:
            self._put(index, 1, block)

    def _discard(self, entry: int) -> None:
        lasts = self._lasts
        index = bisect_left(lasts, entry)
        block = self._blocks[index]
        position = bisect_left(block, entry)
        del block[position]
        if len(block) < self._MERGE:
            self._shrunk(index)
        elif position == len(block):
            lasts[index] = block[-1]

    def _shrunk(self, index: int) -> None:
        """Block *index* fell below _MERGE entries: drop it if empty, else join a neighbour."""
        blocks, lasts = self._blocks, self._lasts
        block = blocks[index]
        if not block:
            del blocks[index], lasts[index]
            return
        if len(blocks) == 1:
            lasts[0] = block[-1]
            return
        first = index if index + 1 < len(blocks) else index - 1
        self._put(first, 2, blocks[first] + blocks[first + 1])

    def _put(self, index: int, count: int, block: list[int]) -> None:
        """Put *block* in place of the *count* blocks at *index*, in halves if too long."""
        if len(block) > self._SPLIT:
            half = len(block) >> 1
            self._blocks[index : index + count] = block[:half], block[half:]
            self._lasts[index : index + count] = block[half - 1], block[-1]
        else:
            self._blocks[index : index + count] = (block,)
            self._lasts[index : index + count] = (block[-1],)

    def remove(self, key: int) -> None:
        """Remove *key* now, in O(log n)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._discard(entry)

    def peek(self) -> tuple[float, int] | None:
        """Return the earliest entry."""
        if not self._blocks:
            return None
        entry = self._blocks[0][0]
        return _due_of(entry >> 128), entry & _KEY_MASK

    def pop(self) -> tuple[float, int]:
        """Remove and return the earliest entry."""
        blocks = self._blocks
        if not blocks:
            raise IndexError("pop from an empty queue")
        block = blocks[0]
        entry = block.pop(0)
        if len(block) < self._MERGE:
            self._shrunk(0)
        key = entry & _KEY_MASK
        del self._entries[key]
        return _due_of(entry >> 128), key

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)


_KEY_MASK = (1 << 64) - 1
_SIGN = 1 << 63
_DOUBLE = struct.Struct("<d")
_WORD = struct.Struct("<Q")


def _sortable(due: float) -> int:
    """A 64-bit int that sorts as *due* does: its IEEE 754 bits, negatives flipped."""
    if due != due:
        raise ValueError("due must not be NaN")
    bits: int = _WORD.unpack(_DOUBLE.pack(due + 0.0))[0]  # + 0.0: -0.0 sorts as 0.0
    return bits ^ _KEY_MASK if bits & _SIGN else bits | _SIGN


def _due_of(sortable: int) -> float:
    """The float that ``_sortable`` made *sortable* of."""
    bits = sortable ^ _SIGN if sortable & _SIGN else sortable ^ _KEY_MASK
    return float(_DOUBLE.unpack(_WORD.pack(bits))[0])
