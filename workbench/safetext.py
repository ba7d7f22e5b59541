"""Untrusted text stays text: what makes catalog, PDF, cache and note text safe to render.

Catalog entries, cache bundles and PDFs come from other people. Put into Markdown or HTML as
they are, `![t](http://host/x)` in an abstract makes the browser fetch that URL when the page
opens (a tracking beacon, and a page that is not offline), and `url: "javascript:..."` becomes
a link that runs a script. Everything the app and the handouts render goes through one of:

- `safe_url(value)`: the URL if it is http(s) with a host (percent-encoded so it cannot end a
  Markdown link or an HTML attribute early), else None: no link at all;
- `md_literal(text)`: text that is not Markdown (titles, abstracts, PDF text, names), escaped so
  that `st.markdown` or a Markdown file shows exactly these characters: no image, link, HTML,
  autolink, heading, list or `$math$` is left;
- `safe_markdown(text)`: a reader's own Markdown notes keep their formatting but lose raw HTML,
  images and links that are not http(s).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# characters left as they are inside a URL; the rest (spaces, quotes, <>, (), `, \) are %-encoded
_URL_SAFE = "/:?#[]@!$&'*+,;=%~-._"


def safe_url(value) -> str | None:
    """`value` as a link target if it is an http(s) URL with a host, else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' in the host
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return quote(url, safe=_URL_SAFE)


# Markdown syntax anywhere in a line (CommonMark, GitHub's extensions, Streamlit's $math$):
# '&' only where it starts an entity, ':' only before '//' and '.' only after 'www' (the
# bare-URL autolinks); '[' escaped also disarms '![' and Streamlit's ':red[...]'
_INLINE = re.compile(r"[\\`*_~\[\]<|$@]|&(?=#?\w+;)|:(?=//)|(?<=[wW]{3})\.")
# syntax only at a line's start: headings, quotes, list items ('-', '+', '1. ', '1) '), setext
# underlines ('=') and table delimiter rows (':---'); '2.1 Details' is no list item
_LINE_START = re.compile(r"^(\d{0,9})([-+=#>:]|(?<=\d)[.)](?=[ \t]|$))", re.MULTILINE)


def md_literal(text) -> str:
    """`text` escaped so Markdown renders it as exactly these characters."""
    text = re.sub(r"^[ \t]+", "", str(text), flags=re.MULTILINE)  # no indented code blocks
    text = _INLINE.sub(lambda m: "\\" + m.group(), text)
    return _LINE_START.sub(r"\1\\\2", text)


# where a link's target starts: after '](' (inline) or ']:' (a reference definition, which may
# sit in a quote or a list: any ']:' is checked)
_LINK_TARGET = re.compile(r"(\]\(\s*|\]:[ \t]*\n?[ \t]*)(\S*)")


def safe_markdown(text) -> str:
    """A reader's Markdown with its formatting, minus raw HTML, images and non-http(s) links.

    `<` becomes `&lt;` (no HTML tag or autolink can start), `![` becomes `!\\[` (no image) and
    a link whose target does not start with http(s):// or '#' gets `](` made `]\\(` (`]:` made
    `]\\:`): the text stays, the link goes. Inside code spans the `&lt;` shows as typed: a small
    price for not guessing where code ends.
    """
    text = str(text).replace("<", "&lt;").replace("![", "!\\[")

    def check(m: re.Match) -> str:
        target = m.group(2)
        if target.startswith("#") or re.match(r"https?://", target, re.IGNORECASE):
            return m.group()
        return "]\\" + m.group()[1:]

    return _LINK_TARGET.sub(check, text)
