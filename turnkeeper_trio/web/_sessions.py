"""The dashboard's login sessions: signed cookies that the dashboard can still end.

A session cookie is ``issued.nonce.mac``: when it was issued (whole seconds of the scheduler's
wall clock), a random nonce, and an HMAC over both with a key derived from the token. The
signature lets every replica given the same token accept it; what the signature cannot say,
that a session was ended, each dashboard keeps on its own object:

- the nonces of sessions that logged out (until they would have expired anyway), bounded in
  number: when more are remembered than ``max_ended``, the oldest are ended by a cutoff;
- a cutoff, ``not_before``: sessions issued before it are refused. It starts when the
  dashboard is made (a restart forgets which sessions logged out, so it ends them all) and
  moves on ``revoke_all()``.

So a session lasts ``max_age`` seconds at most, and ends before on logout, on
``Dashboard.revoke_sessions()``, when the dashboard restarts, or when the token changes (the
only one of these that reaches every replica at once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

import attrs

import turnkeeper_trio as tk

__all__ = ["MIN_TOKEN_LENGTH", "Session", "Sessions", "check_token"]

#: The shortest token a dashboard accepts.
MIN_TOKEN_LENGTH = 16
#: The fewest different characters a token must have (``aaaa...`` is no secret).
MIN_TOKEN_VARIETY = 5
_HOW = 'make one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
#: Seconds a cookie may claim to be issued in the future (replicas' clocks differ a little).
_SKEW = 60


def check_token(token: object) -> str | None:
    """*token* if it is ``None`` or a usable secret; else a ``TypeError`` or ``InvalidArgument``.

    Usable: at least ``MIN_TOKEN_LENGTH`` characters, not blank, without whitespace at
    either end (a login form could not send it back reliably), and with at least
    ``MIN_TOKEN_VARIETY`` different characters.
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise TypeError(f"token must be a str or None, got {type(token).__name__}")
    if not token.strip():
        problem = "is blank (whitespace only)" if token else "is empty"
    elif len(token) < MIN_TOKEN_LENGTH:
        problem = f"must be at least {MIN_TOKEN_LENGTH} characters (got {len(token)})"
    elif token != token.strip():
        problem = "must not start or end with whitespace (a stray newline from a file?)"
    elif len(set(token)) < MIN_TOKEN_VARIETY:
        problem = (
            f"must have at least {MIN_TOKEN_VARIETY} different characters "
            f"(got {len(set(token))}): it is too easy to guess"
        )
    else:
        return token
    raise tk.InvalidArgument(f"token {problem}: {_HOW}")


@attrs.frozen
class Session:
    """A valid session: its nonce (what CSRF tokens are bound to) and when it was issued."""

    nonce: str
    issued: int


@attrs.define(eq=False)
class Sessions:
    """Issues, checks and ends the sessions of one dashboard (its state lives here).

    Args:
        token: the dashboard's token (checked already).
        max_age: seconds a session lasts.
        now: the current time, in seconds since the epoch (the scheduler's wall clock).
        max_ended: logged-out sessions remembered at most; past that, the oldest sessions
            end by the cutoff (about 300 kB of memory for the default).
    """

    token: str = attrs.field(repr=False)
    max_age: float
    now: Callable[[], float]
    max_ended: int = 4096
    not_before: int = attrs.field(init=False)
    _key: bytes = attrs.field(init=False, repr=False)
    _digest: bytes = attrs.field(init=False, repr=False)
    _ended: dict[str, int] = attrs.field(init=False, factory=dict, repr=False)

    def __attrs_post_init__(self) -> None:
        # A key derived from the token signs sessions and CSRF tokens; the token itself is
        # never stored in a cookie or a page.
        self._key = hashlib.sha256(b"turnkeeper_trio dashboard\0" + self.token.encode()).digest()
        self._digest = hashlib.sha256(self.token.encode()).digest()
        self.not_before = int(self.now())

    @property
    def ended(self) -> int:
        """How many logged-out sessions are remembered (at most ``max_ended``)."""
        return len(self._ended)

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def is_token(self, given: str) -> bool:
        """Whether *given* is the token (in constant time)."""
        return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._digest)

    def issue(self) -> str:
        """A new session's cookie value."""
        nonce = secrets.token_urlsafe(18)
        issued = max(int(self.now()), self.not_before)  # never before a cutoff just set
        return f"{issued}.{nonce}.{self._sign(f'session:{issued}:{nonce}')}"

    def check(self, cookie: str) -> Session | None:
        """The session a cookie value stands for, or ``None`` if it is forged or has ended."""
        parts = cookie.split(".")
        if len(parts) != 3:
            return None
        issued_text, nonce, mac = parts
        if not same(mac, self._sign(f"session:{issued_text}:{nonce}")):
            return None
        try:
            issued = int(issued_text)
        except ValueError:
            return None
        if issued < self.not_before or nonce in self._ended:
            return None
        age = self.now() - issued
        return Session(nonce, issued) if -_SKEW <= age <= self.max_age else None

    def csrf(self, session: Session) -> str:
        """The CSRF token of *session*'s forms."""
        return self._sign(f"csrf:{session.nonce}")

    def end(self, session: Session) -> None:
        """End *session* (logout): its cookie is refused from now on, even if copied."""
        self._ended[session.nonce] = session.issued
        if len(self._ended) > self.max_ended:
            self._forget(int(self.now() - self.max_age))  # those are refused anyway
        if len(self._ended) > self.max_ended:
            # Still too many: end every session as old as the oldest remembered one.
            self.not_before = min(self._ended.values()) + 1
            self._forget(self.not_before)

    def end_all(self) -> None:
        """End every session issued so far; logging in again works at once."""
        self.not_before = int(self.now()) + 1
        self._ended.clear()

    def _forget(self, before: float) -> None:
        """Stop remembering ended sessions issued before *before* (refused by age or cutoff)."""
        self._ended = {n: issued for n, issued in self._ended.items() if issued >= before}


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of a client's text with ours (any characters: bytes)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())
