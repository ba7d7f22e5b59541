"""Validated catalogs remembered by content: a 20,000-paper `papers.yaml` is parsed and checked
once (about 1.5 s), then every command and page that loads the same bytes gets it in a tenth of
that.

The key is the sha256 of the file's bytes together with everything else validation depends on
(the file name in messages, this year, the reproductions installed, the cache format). Entries
live in this process and in the user's cache folder (`WORKBENCH_CACHE_DIR`, else
`$XDG_CACHE_HOME/paper-workbench`, else `~/.cache/paper-workbench`), never in the workspace: a
workspace is untrusted (a classmate's clone), and a cache inside it could carry papers that
were never validated. Writing the cache is best effort; a missing, unreadable or damaged entry
just means validating again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from pathlib import Path

from workbench.catalog.model import (
    Catalog,
    Paper,
    Problem,
    Topic,
    known_reproductions,
    reproduction_file,
)

log = logging.getLogger(__name__)

FORMAT = 3  # bump when the validation rules change (2: the venue-year warning, 3: relations)
KEEP_FILES = 8     # newest cache files kept on disk
_MEMO: OrderedDict[str, tuple[Catalog | None, list[Problem]]] = OrderedDict()
_MEMO_SIZE = 4


def cache_dir() -> Path:
    if os.environ.get("WORKBENCH_CACHE_DIR"):
        return Path(os.environ["WORKBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "paper-workbench"


def key_of(raw: bytes, name: str) -> str:
    h = hashlib.sha256(raw)
    h.update(f"\0{FORMAT}\0{name}\0{date.today().year}\0".encode())
    for repro in sorted(known_reproductions()):  # a preset a paper names may be new or gone
        f = reproduction_file(repro)
        h.update(f"{repro}:{f.stat().st_mtime_ns if f else 0},".encode())
    return h.hexdigest()


def validated(raw: bytes, name: str, validate: Callable[[], tuple[Catalog | None, list]]
              ) -> tuple[Catalog | None, list[Problem]]:
    """`validate()`'s result for these bytes, from the cache when it has it."""
    key = key_of(raw, name)
    hit = _MEMO.get(key) or _read(key)
    if hit is None:
        hit = validate()
        _write(key, *hit)
    _MEMO[key] = hit
    _MEMO.move_to_end(key)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return hit[0], list(hit[1])


def remember(raw: bytes, name: str, catalog: Catalog) -> None:
    """Store a catalog the writer built for `raw` without parsing it (new entries checked
    against the old catalog), so the next load of those bytes is a cache hit."""
    key = key_of(raw, name)
    entry = (catalog, list(catalog.warnings))
    _MEMO[key] = entry
    _write(key, *entry)


def _path(key: str) -> Path:
    return cache_dir() / f"catalog-{key}.json"


def _read(key: str):
    try:
        data = json.loads(_path(key).read_text("utf-8"))
        problems = [Problem(*p) for p in data["problems"]]
        if data["catalog"] is None:
            return None, problems
        c = data["catalog"]
        papers = tuple(Paper(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in p.items()}) for p in c["papers"])
        topics = tuple(Topic(*t) for t in c["topics"])
        warnings = tuple(p for p in problems if p.severity == "warning")
        return Catalog(topics, papers, warnings=warnings), problems
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("catalog cache entry %s unusable (%s); validating again", key[:12], exc)
        return None


def _write(key: str, catalog: Catalog | None, problems: list[Problem]) -> None:
    data = {"problems": [[p.file, p.line, p.col, p.message, p.severity] for p in problems],
            "catalog": None if catalog is None else {
                "topics": [[t.id, t.title] for t in catalog.topics],
                "papers": [{k: v for k, v in p.__dict__.items() if v not in (None, ())}
                           for p in catalog.papers]}}
    from workbench.fileio import atomic_write_text

    try:
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(_path(key), json.dumps(data, ensure_ascii=False,
                                                 separators=(",", ":")))
        old = sorted(folder.glob("catalog-*.json"), key=lambda f: f.stat().st_mtime)
        for f in old[:-KEEP_FILES]:
            f.unlink(missing_ok=True)
    except Exception as exc:  # noqa: BLE001 - best effort: a read-only home is fine
        log.info("catalog cache not written (%s)", exc)
