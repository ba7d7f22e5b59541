"""Queries over the catalog for the Library page and the CLI (filtering, text search)."""

from __future__ import annotations

from collections.abc import Iterable

from workbench.catalog.model import Catalog, Paper


def filter_papers(
    cat: Catalog,
    topics: Iterable[str] = (),
    years: tuple[int, int] | None = None,
    tags: Iterable[str] = (),
    text: str = "",
) -> list[Paper]:
    """Papers matching every given filter, in catalog order.

    Topics and tags match any of the chosen values; `text` matches when every word of it occurs
    (case-insensitively) in the title, the authors or the abstract.
    """
    topics, tags = set(topics), set(tags)
    words = text.lower().split()
    out = []
    for p in cat.papers:
        if topics and p.topic not in topics:
            continue
        if years and not years[0] <= p.year <= years[1]:
            continue
        if tags and not tags & set(p.tags):
            continue
        if words:
            hay = " ".join([p.title, " ".join(p.authors), p.abstract or ""]).lower()
            if not all(w in hay for w in words):
                continue
        out.append(p)
    return out
