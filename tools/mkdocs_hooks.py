"""MkDocs hooks for the documentation site (``hooks:`` in ``mkdocs.yml``).

The theme writes the 404 page with links from the site root (``/assets/...``), which work
when a server serves it and break when ``site/404.html`` is opened from a file.  The 404 page
lives at the root, so links relative to it (``./assets/...``) work in both cases when served
from the root, and from a file.
"""

from __future__ import annotations

import re

_ROOT_LINK = re.compile(r'\b(href|src)="/(?!/)')


def on_post_template(output_content: str, template_name: str, config: object) -> str:
    """Make the 404 page's root links relative."""
    if template_name != "404.html":
        return output_content
    return _ROOT_LINK.sub(r'\1="./', output_content)
