"""Where the dashboard may send a browser back to after an action: only within its mount.

The ``back`` field of an action's form is the page the click came from. It comes from the
client, so it is read as hostile: it must resolve, as a browser would resolve it, to a path
under the dashboard's mount path, or it is not used.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

__all__ = ["confine"]

# A path segment's characters that need no quoting (RFC 3986 pchar, without "%").
_SAFE = "/:@!$&'()*+,;=-._~"


def confine(back: str, base: str) -> str | None:
    r"""*back* as a normalized path (and query) under the mount path *base*, or ``None``.

    ``None`` for anything with a scheme or host (``https://evil``, ``//evil``), a backslash
    or control character (browsers read ``/\evil`` as ``//evil``), an empty segment, a
    ``..`` that climbs out of the mount (also percent-encoded, ``%2e%2e``), or an encoded
    slash or backslash. *base* is ``""`` at the root, else ``/prefix`` without a final slash.

    Example:
        ```python
        confine("/ops/job?key=a", "/ops")          # "/ops/job?key=a"
        confine("/ops/../evil", "/ops")            # None
        ```
    """
    if not back or any(ord(c) < 0x20 or c in "\\\x7f" for c in back):
        return None
    parts = urlsplit(back)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    decoded = unquote(parts.path)
    if decoded.count("/") != parts.path.count("/") or "\\" in decoded:
        return None  # %2f or %5c: a separator the browser would not see, or would
    segments: list[str] = []
    names = decoded.split("/")[1:]
    for index, name in enumerate(names):
        if name == "" and index < len(names) - 1:
            return None  # "//": a host to a browser, and never a dashboard path
        if name == "..":
            if not segments:
                return None
            segments.pop()
        elif name not in ("", "."):
            segments.append(name)
    slash = "/" if segments and names[-1] in ("", ".", "..") else ""
    path = "/" + "/".join(segments) + slash
    if path != base + "/" and not path.startswith(base + "/"):
        return None
    query = f"?{parts.query}" if parts.query else ""
    return quote(path, safe=_SAFE) + query
