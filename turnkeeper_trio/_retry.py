"""Retry policies: when to try a failed occurrence again."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod

import attrs

from ._exceptions import InvalidArgument
from ._validation import check_int, check_seconds

__all__ = ["ExponentialBackoff", "FixedDelay", "RetryPolicy"]


class RetryPolicy(ABC):
    """Decides whether, and after how long, a failed attempt is tried again.

    A failed attempt is one that returned ``False``, raised an ``Exception`` or timed out.
    Retries are further attempts of the *same* occurrence; once the policy gives up, the job
    moves on to its next regular occurrence.  Delays are measured on Trio's clock, so wall-clock
    jumps never shorten or stretch them.

    Example:
        ```python
        @attrs.frozen
        class ThreeQuickTries(tk.abc.RetryPolicy):
            def next_delay(self, failed_attempt: int) -> float | None:
                return 0.5 if failed_attempt < 3 else None
        ```
    """

    __slots__ = ()

    @abstractmethod
    def next_delay(self, failed_attempt: int) -> float | None:
        """Return the seconds to wait before the next attempt, or ``None`` to give up.

        Args:
            failed_attempt: the number of the attempt that just failed, starting at 1.
        """


def _non_negative_int(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    check_int(attribute.name, value, minimum=0)


def _initial(value: object) -> float:
    return check_seconds("initial", value, allow_zero=True)


def _max_delay(value: object) -> float:
    return check_seconds("max_delay", value, allow_zero=True)


def _delay(value: object) -> float:
    return check_seconds("delay", value, allow_zero=True)


@attrs.frozen
class ExponentialBackoff(RetryPolicy):
    """Retry up to *max_retries* times, waiting ``initial * factor**(n-1)`` before retry *n*.

    Delays are capped at *max_delay*.  With *jitter* ``j`` (0 to 1) each delay is moved at
    random by up to ``±j * delay``, never below 0 and never above *max_delay*, so many jobs
    failing together do not retry in lockstep.  *seed* makes the jitter reproducible.

    Example:
        ```python
        ExponentialBackoff(max_retries=4, initial=2, factor=3)   # waits 2, 6, 18, 54 s
        ```

    Raises:
        InvalidArgument: a value is out of range (e.g. ``factor < 1``, ``jitter > 1``,
            ``initial > max_delay``, a delay over 100 years).
    """

    max_retries: int = attrs.field(validator=_non_negative_int)
    initial: float = attrs.field(default=1.0, kw_only=True, converter=_initial)
    factor: float = attrs.field(default=2.0, kw_only=True)
    max_delay: float = attrs.field(default=300.0, kw_only=True, converter=_max_delay)
    jitter: float = attrs.field(default=0.0, kw_only=True)
    seed: int | None = attrs.field(default=None, kw_only=True, eq=False)
    _rng: random.Random = attrs.field(init=False, eq=False, repr=False)

    @factor.validator
    def _check_factor(self, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"factor must be a number >= 1, got {type(value).__name__}")
        if not 1.0 <= value < float("inf"):
            raise InvalidArgument(f"factor must be a finite number >= 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _attribute: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"jitter must be a number from 0 to 1, got {type(value).__name__}")
        if not 0.0 <= value <= 1.0:
            raise InvalidArgument(
                f"jitter must be from 0 to 1 (a fraction of the delay), got {value!r}"
            )

    def __attrs_post_init__(self) -> None:
        if self.initial > self.max_delay:
            raise InvalidArgument(
                f"initial ({self.initial} s) must not exceed max_delay ({self.max_delay} s)"
            )

    @_rng.default
    def _make_rng(self) -> random.Random:
        return random.Random(self.seed)

    def base_delay(self, failed_attempt: int) -> float:
        """The delay before the retry following *failed_attempt*, before jitter."""
        try:
            delay = self.initial * self.factor ** (failed_attempt - 1)
        except OverflowError:
            return self.max_delay
        return min(delay, self.max_delay)

    def next_delay(self, failed_attempt: int) -> float | None:
        """Return the (jittered) delay, or ``None`` once *max_retries* retries are used."""
        if failed_attempt > self.max_retries:
            return None
        delay = self.base_delay(failed_attempt)
        if self.jitter:
            delay += delay * self.jitter * self._rng.uniform(-1.0, 1.0)
        return min(max(delay, 0.0), self.max_delay)


@attrs.frozen
class FixedDelay(RetryPolicy):
    """Retry up to *max_retries* times, waiting *delay* (seconds or ``timedelta``) each time.

    Example:
        ```python
        FixedDelay(max_retries=3, delay=timedelta(seconds=30))
        ```
    """

    max_retries: int = attrs.field(validator=_non_negative_int)
    delay: float = attrs.field(converter=_delay)

    def next_delay(self, failed_attempt: int) -> float | None:
        """Return *delay*, or ``None`` once *max_retries* retries are used."""
        if failed_attempt > self.max_retries:
            return None
        return self.delay
