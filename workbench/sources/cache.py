"""On-disk cache of API responses, and the fetch policy both clients share.

Every successful response is kept in `.workbench/sources.sqlite3` (stdlib sqlite3) with its
fetch time, keyed by service + method + path + sorted query (+ POST body) *without* the base
URL, so a mirror, a local test server and the real service share entries, and a bundle
exported on one machine works on another.

The policy for one request (`ResponseCache.fetch`):
1. offline (`--offline`, WORKBENCH_OFFLINE=1): the cached body, or `OfflineMiss`;
2. cached and younger than `max_age_days`: the cached body, no request;
3. else send. 200 with a valid body: stored and returned. 429, or 503 with Retry-After: wait
   `Retry-After` seconds (else 1, 2, 4, ... s) and resend while the total wait stays within the
   retry budget. A network failure, a 5xx, a garbage body (say a captive portal's HTML) or an
   exhausted budget: the cached body if there is one (and a notice saying so), else the typed
   error;
4. any other status (400, 404, ...) goes back to the client, which knows what it means.

`notices` collects the "served from the cache because ..." lines the CLI prints and the app
shows.

The cache is optional: reads open the file read-only when it cannot be written (a read-only
workspace still answers from it) and never create it; a response that cannot be stored is still
returned, with a notice. An imported bundle is checked field by field (`_read_bundle`): a
fetch time in the future would be served forever, an impossible one would crash `cache info`.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from workbench.fileio import atomic_write_bytes
from workbench.sources import (
    BadResponse,
    OfflineMiss,
    RateLimited,
    ServiceUnavailable,
    Settings,
    SourceError,
)

log = logging.getLogger(__name__)

SERVICE_NAMES = {"arxiv": "arXiv", "s2": "Semantic Scholar"}
DB_NAME = "sources.sqlite3"
BUNDLE_FORMAT = "workbench-source-cache"
BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 1_000_000_000  # decompressed; refuses gzip bombs
MAX_ATTEMPTS = 10
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
CLOCK_SKEW_S = 86400.0  # a fetch time up to a day ahead of our clock (another machine) is fine
MAX_KEY_CHARS = 100_000  # a batch POST's key holds its JSON body
MAX_CONTENT_TYPE_CHARS = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key          TEXT PRIMARY KEY,  -- 'arxiv GET /?id_list=...' (no base URL)
    service      TEXT NOT NULL,     -- 'arxiv' or 's2'
    content_type TEXT NOT NULL,
    body         BLOB NOT NULL,
    fetched_at   REAL NOT NULL      -- Unix time of the successful fetch
)
"""


class CacheError(SourceError):
    """The cache file or a bundle cannot be read or written."""


@dataclass(frozen=True)
class HttpReply:
    """What a client's `send()` returns, and what `fetch` hands back."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    from_cache: bool = False
    fetched_at: float | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    entries: Mapping[str, int]  # per service
    bytes: int
    oldest: float | None
    newest: float | None

    def lines(self) -> list[str]:
        total = sum(self.entries.values())
        out = [f"cache: {self.path}", f"entries: {total} ({self.bytes / 1e6:.1f} MB)"]
        for service, n in sorted(self.entries.items()):
            out.append(f"  {SERVICE_NAMES.get(service, service)}: {n}")
        if self.oldest is not None and self.newest is not None:
            out.append(f"fetched between {_when(self.oldest)} and {_when(self.newest)}")
        return out


@dataclass(frozen=True)
class ImportSummary:
    added: int
    updated: int  # the bundle's copy was newer
    kept: int  # ours was as new or newer

    def __str__(self) -> str:
        return (f"{self.added} added, {self.updated} updated, "
                f"{self.kept} kept (already as new)")


def _when(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError, TypeError):  # a cache damaged before checks
        return f"at an impossible time ({ts!r})"


# --- rate limit and back-off ------------------------------------------------------------------

_last_request: dict[str, float] = {}
_rate_lock = threading.Lock()


def throttle(service: str, min_interval_s: float) -> None:
    """Block until `min_interval_s` has passed since this process's last request to `service`.

    Process-wide (all clients and app sessions share it), counting only real network requests,
    so cache hits never wait.
    """
    if min_interval_s <= 0:
        return
    with _rate_lock:
        now = time.monotonic()
        wait = _last_request.get(service, -1e9) + min_interval_s - now
        if wait > 0:
            time.sleep(wait)
        _last_request[service] = time.monotonic()


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds ('120') or an HTTP-date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff_delay(attempt: int, retry_after: float | None) -> float:
    """Wait before retry `attempt` (0-based): Retry-After if given, else min(30, 1 * 2^attempt)."""
    if retry_after is not None:
        return retry_after
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** attempt)


# --- the cache ---------------------------------------------------------------------------------


class ResponseCache:
    """Successful API responses on disk, and the offline-first fetch policy around them."""

    def __init__(self, path: str | Path, settings: Settings | None = None):
        self.path = Path(path)
        self.settings = settings or Settings()
        self.sleep: Callable[[float], None] = time.sleep  # back-off waits (tests record them)
        self._notices: dict[str, str] = {}

    @classmethod
    def for_workspace(cls, workspace, settings: Settings | None = None) -> ResponseCache:
        return cls(workspace.cache_dir / DB_NAME, settings)

    @property
    def offline(self) -> bool:
        return self.settings.offline

    @property
    def notices(self) -> list[str]:
        """One line per thing served from the cache instead of the network, oldest first."""
        return list(self._notices.values())

    def notice(self, topic: str, message: str) -> None:
        """Record a line for the user (once per `topic`)."""
        if topic not in self._notices:
            log.info("%s", message)
            self._notices[topic] = message

    # storage

    def _error(self, doing: str, exc: Exception) -> CacheError:
        """One line for a failed read or write: a damaged file (or one whose table is not ours)
        says how to recover; a file we may not write says why."""
        name = getattr(exc, "sqlite_errorname", "")
        damaged = name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or (
            doing == "read" and name == "SQLITE_ERROR")  # e.g. a 'responses' table not ours
        if damaged:
            return CacheError(f"the response cache {self.path} is damaged ({exc}); delete it to "
                              "start afresh (nothing but downloads is lost)")
        return CacheError(f"cannot {doing} the response cache {self.path} "
                          f"({getattr(exc, 'strerror', None) or exc})")

    def _connect(self) -> sqlite3.Connection:
        """The cache opened for writing, created if need be."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30)
            con.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise self._error("write", exc) from None
        return con

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """A query's rows; [] without a cache file. Opened read-only (`mode=ro`) when the file
        cannot be written, and never created: reading must work in a read-only workspace."""
        if not self.path.is_file():
            return []
        mode = "rw" if os.access(self.path, os.W_OK) else "ro"
        try:
            with closing(sqlite3.connect(f"{self.path.resolve().as_uri()}?mode={mode}",
                                         uri=True, timeout=30)) as con:
                if con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                               "name = 'responses'").fetchone() is None:
                    return []  # an empty file
                return con.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read", exc) from None

    def get(self, key: str) -> HttpReply | None:
        rows = self._rows("SELECT content_type, body, fetched_at FROM responses WHERE key = ?",
                          (key,))
        if not rows:
            return None
        content_type, body, fetched_at = rows[0]
        if not isinstance(fetched_at, int | float):  # stored by hand: never fresh
            fetched_at = math.nan
        return HttpReply(200, bytes(body), {"content-type": str(content_type)}, True, fetched_at)

    def put(self, key: str, service: str, body: bytes, content_type: str = "",
            fetched_at: float | None = None) -> None:
        try:
            with closing(self._connect()) as con, con:
                con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                            (key, service, content_type, body,
                             time.time() if fetched_at is None else fetched_at))
        except sqlite3.Error as exc:
            raise self._error("write", exc) from None

    def info(self) -> CacheInfo:
        rows = self._rows("SELECT service, COUNT(*), SUM(LENGTH(body)), MIN(fetched_at), "
                          "MAX(fetched_at) FROM responses GROUP BY service")
        oldest = min((r[3] for r in rows), default=None)
        newest = max((r[4] for r in rows), default=None)
        return CacheInfo(self.path, {r[0]: r[1] for r in rows}, sum(r[2] or 0 for r in rows),
                         oldest, newest)

    # the fetch policy

    def fetch(self, key: str, send: Callable[[], HttpReply], *, service: str, what: str,
              validate: Callable[[bytes], None] | None = None) -> HttpReply:
        """One request under the offline-first policy (module docstring).

        `what` names the request in messages, after the service name ("id 1706.03762").
        `send` raises ServiceUnavailable / Timeout / BadResponse for transport failures;
        `validate` raises BadResponse for a malformed 200 body."""
        cached = self.get(key)
        name = SERVICE_NAMES.get(service, service)
        if self.offline:
            if cached is None:
                raise OfflineMiss(f"offline, and {name} {what} is not in the cache; go online or "
                                  "import a cache bundle (`workbench cache import FILE`)")
            self.notice(f"{service} {what}", f"offline: {name} {what} served from the cache "
                         f"(fetched {_when(cached.fetched_at)})")
            return cached
        max_age_s = self.settings.max_age_days * 86400
        # a fetch time in the future (a clock far ahead, a damaged cache) is never fresh
        if cached is not None and -CLOCK_SKEW_S <= time.time() - cached.fetched_at <= max_age_s:
            log.debug("cache hit: %s", key)
            return cached
        try:
            reply = self._send_with_backoff(send, name, what)
            if reply.status == 200:
                if validate is not None:
                    validate(reply.body)
                try:
                    self.put(key, service, reply.body, reply.content_type)
                except CacheError as exc:  # the cache is optional: the answer still counts
                    self.notice("cache write", f"{exc}; answers are not kept for next time")
                return HttpReply(200, reply.body, reply.headers, False, time.time())
            if reply.status >= 500:
                raise ServiceUnavailable(f"{name} failed with HTTP {reply.status} for {what}; "
                                         "try again later")
            return reply
        except (ServiceUnavailable, BadResponse) as exc:
            if cached is None:
                raise
            self.notice(f"{service} {what}", f"{name} failed, so {what} was served from the cache "
                         f"(fetched {_when(cached.fetched_at)}): {exc}")
            return cached

    def _send_with_backoff(self, send: Callable[[], HttpReply], name: str,
                           what: str) -> HttpReply:
        waited = 0.0
        for attempt in range(MAX_ATTEMPTS):
            reply = send()
            retry_after = retry_after_seconds(reply.headers.get("retry-after"))
            limited = reply.status == 429 or (reply.status == 503 and retry_after is not None)
            if not limited:
                return reply
            delay = backoff_delay(attempt, retry_after)
            if waited + delay > self.settings.retry_budget_s:
                asked = f" (it asked to wait {delay:g} s)" if retry_after is not None else ""
                raise RateLimited(
                    f"{name} is rate-limiting us (HTTP {reply.status}) for {what}{asked}; gave up "
                    f"after {attempt + 1} tries and {waited:g} s of waiting; try again later "
                    "or use a shared cache bundle (`workbench cache import FILE`)")
            log.info("%s answered %s; retrying in %.1f s", name, reply.status, delay)
            self.sleep(delay)
            waited += delay
        raise RateLimited(f"{name} kept answering HTTP 429 for {what} after {MAX_ATTEMPTS} tries; "
                          "try again later")

    # bundles

    def export_bundle(self, file: str | Path) -> int:
        """Write every cached response to `file` (gzip JSON); returns the number written."""
        rows = self._rows("SELECT key, service, content_type, body, fetched_at "
                          "FROM responses ORDER BY key")
        entries = []
        for key, service, content_type, body, fetched_at in rows:
            body = bytes(body)
            try:
                text, encoding = body.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                text, encoding = base64.b64encode(body).decode("ascii"), "base64"
            entries.append({"key": key, "service": service, "content_type": content_type,
                            "fetched_at": fetched_at, "encoding": encoding, "body": text})
        doc = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION,
               "exported_at": time.time(), "entries": entries}
        data = gzip.compress(json.dumps(doc, ensure_ascii=False).encode("utf-8"), mtime=0)
        try:
            atomic_write_bytes(file, data)
        except OSError as exc:
            raise CacheError(f"cannot write the bundle {file}: {exc.strerror or exc}") from None
        return len(entries)

    def import_bundle(self, file: str | Path) -> ImportSummary:
        """Merge a bundle from `export_bundle`; per key the newer fetch wins."""
        entries = _read_bundle(Path(file))
        added = updated = kept = 0
        try:
            with closing(self._connect()) as con, con:
                for e in entries:
                    row = con.execute("SELECT fetched_at FROM responses WHERE key = ?",
                                      (e["key"],)).fetchone()
                    if row is not None and isinstance(row[0], int | float) \
                            and row[0] >= e["fetched_at"]:
                        kept += 1
                        continue
                    con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                                (e["key"], e["service"], e["content_type"], e["body"],
                                 e["fetched_at"]))
                    added, updated = (added + 1, updated) if row is None else (added, updated + 1)
        except sqlite3.Error as exc:
            raise self._error("write", exc) from None
        return ImportSummary(added, updated, kept)


def _read_bundle(path: Path) -> list[dict]:
    """Parse and check a bundle; every problem is one CacheError line naming the file."""
    def bad(why: str) -> CacheError:
        return CacheError(f"{path} is not a usable cache bundle: {why}; make one with "
                          "`workbench cache export FILE`")

    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read(MAX_BUNDLE_BYTES + 1)
    except FileNotFoundError:
        raise CacheError(f"no bundle at {path}") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise bad(f"not gzip data ({exc})") from None
    if len(raw) > MAX_BUNDLE_BYTES:
        raise bad(f"larger than {MAX_BUNDLE_BYTES // 1_000_000} MB uncompressed")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise bad("missing the format marker")
    if doc.get("version") != BUNDLE_VERSION:
        raise bad(f"version {doc.get('version')!r}, this workbench reads {BUNDLE_VERSION}")
    if "exported_at" in doc and _time_problem(doc["exported_at"], time.time()):
        raise bad(f"'exported_at' {_time_problem(doc['exported_at'], time.time())}")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise bad("'entries' is not a list")
    now = time.time()
    out = []
    for i, e in enumerate(entries):
        try:
            out.append(_check_entry(e, now))
        except ValueError as exc:
            key = f" (key {e['key'][:80]!r})" if isinstance(e, dict) and isinstance(
                e.get("key"), str) else ""
            raise bad(f"entry #{i + 1} is malformed: {exc}{key}") from None
    return out


def _time_problem(value, now: float) -> str | None:
    """Why `value` is not a fetch time (a Unix time, not in the future), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"is {type(value).__name__}, not a Unix time"
    if not math.isfinite(value) or value < 0:
        return f"is {value!r}, not a Unix time"
    if value > now + CLOCK_SKEW_S:
        return f"is {value!r}, in the future ({_when(value)})"
    return None


def _check_entry(e, now: float) -> dict:
    """One bundle entry, every field checked; ValueError says which field is wrong and why."""
    if not isinstance(e, dict):
        raise ValueError(f"it is {type(e).__name__}, not an object")
    service, key, ctype = e.get("service"), e.get("key"), e.get("content_type")
    if service not in SERVICE_NAMES:
        raise ValueError(f"'service' is {service!r}, not one of {', '.join(SERVICE_NAMES)}")
    if not (isinstance(key, str) and key.startswith(f"{service} ") and key.isprintable()
            and len(key) <= MAX_KEY_CHARS):
        raise ValueError(f"'key' is not one printable line starting '{service} '")
    if not (isinstance(ctype, str) and ctype.isprintable()
            and len(ctype) <= MAX_CONTENT_TYPE_CHARS):
        raise ValueError("'content_type' is not a short printable string")
    why = _time_problem(e.get("fetched_at"), now)
    if why:
        raise ValueError(f"'fetched_at' {why}")
    if e.get("encoding") not in ("utf-8", "base64") or not isinstance(e.get("body"), str):
        raise ValueError("'body' is not a string with 'encoding' utf-8 or base64")
    try:
        body = (e["body"].encode("utf-8") if e["encoding"] == "utf-8"
                else base64.b64decode(e["body"], validate=True))
    except ValueError:
        raise ValueError("'body' is corrupt (not valid base64 or UTF-8)") from None
    return {"key": key, "service": service, "content_type": ctype, "body": body,
            "fetched_at": float(e["fetched_at"])}
