"""The MCP Apps views (`ui://` resources): self-contained HTML documents built from the files in this folder.

Each view is a template (`viewer.html`) whose `<link rel="stylesheet" href="x.css">` and
`<script src="x.js"></script>` tags name files next to it. `load_app_html(name)` replaces each tag with the
file's text (`<style>`/`<script>`), so the served document needs no network, no CDN and no build step: it
runs under the hosts' restrictive default CSP (`script-src 'self' 'unsafe-inline'; img-src 'self' data:`).
The result is cached per name.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

APP_NAMES = ("viewer",)
"""The views `load_app_html` builds. There is one: hosts render only the view a tool links to, so the mask
painter opens inside the viewer rather than as a resource of its own."""

VIEWER_URI = "ui://easel/viewer.html"
APP_URIS = {VIEWER_URI: "viewer"}
"""The `ui://` URI of each view (the resource to register, and the tools' `_meta.ui.resourceUri`)."""

MAX_HTML_BYTES = 150_000
"""Each served document stays under this size."""

_FILE = r"[a-z][a-z0-9_-]*"
_SCRIPT = re.compile(rf'<script src="(?P<file>{_FILE}\.js)"></script>')
_STYLE = re.compile(rf'<link rel="stylesheet" href="(?P<file>{_FILE}\.css)">')
_LEFTOVER = re.compile(r"<script\b[^>]*\bsrc\s*=|<link\b", re.IGNORECASE)


def _source(file: str) -> str:
    return (resources.files(__name__) / file).read_text(encoding="utf-8")


def _inline(tag: str, text: str) -> str:
    # A literal "</script" (or "</style") in the inlined text would end the element early.
    safe = re.sub(rf"</(?={tag})", r"<\\/", text, flags=re.IGNORECASE)
    return f"<{tag}>\n{safe}</{tag}>"


@cache
def load_app_html(name: str) -> str:
    """The served HTML of the view `name` ("viewer"), with its CSS and JS inlined.

    Raises:
        ValueError: `name` is not a view.
        RuntimeError: the template references a file it cannot inline, or the result is too big.
    """
    if name not in APP_NAMES:
        raise ValueError(f"unknown Easel view {name!r}; expected one of {', '.join(APP_NAMES)}")
    html = _source(f"{name}.html")
    html = _STYLE.sub(lambda m: _inline("style", _source(m["file"])), html)
    html = _SCRIPT.sub(lambda m: _inline("script", _source(m["file"])), html)
    if _LEFTOVER.search(html):
        raise RuntimeError(f"{name}.html references a stylesheet or script that was not inlined")
    size = len(html.encode("utf-8"))
    if size > MAX_HTML_BYTES:
        raise RuntimeError(f"{name}.html is {size} bytes once inlined, over {MAX_HTML_BYTES}")
    return html
