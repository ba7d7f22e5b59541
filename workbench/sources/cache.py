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
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
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
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


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

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30)
            con.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"cannot open the response cache {self.path} ({exc}); delete "
                             "it to start afresh (nothing but downloads is lost)") from None
        return con

    def get(self, key: str) -> HttpReply | None:
        try:
            with closing(self._connect()) as con:
                row = con.execute("SELECT content_type, body, fetched_at FROM responses "
                                  "WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise CacheError(f"cannot read the response cache {self.path} ({exc}); delete it "
                             "to start afresh") from None
        if row is None:
            return None
        content_type, body, fetched_at = row
        return HttpReply(200, bytes(body), {"content-type": content_type}, True, fetched_at)

    def put(self, key: str, service: str, body: bytes, content_type: str = "",
            fetched_at: float | None = None) -> None:
        try:
            with closing(self._connect()) as con, con:
                con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                            (key, service, content_type, body,
                             time.time() if fetched_at is None else fetched_at))
        except sqlite3.Error as exc:
            raise CacheError(f"cannot write the response cache {self.path} ({exc})") from None

    def info(self) -> CacheInfo:
        with closing(self._connect()) as con:
            rows = con.execute("SELECT service, COUNT(*), SUM(LENGTH(body)), MIN(fetched_at), "
                               "MAX(fetched_at) FROM responses GROUP BY service").fetchall()
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
        if cached is not None and time.time() - cached.fetched_at <= max_age_s:
            log.debug("cache hit: %s", key)
            return cached
        try:
            reply = self._send_with_backoff(send, name, what)
            if reply.status == 200:
                if validate is not None:
                    validate(reply.body)
                self.put(key, service, reply.body, reply.content_type)
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
        with closing(self._connect()) as con:
            rows = con.execute("SELECT key, service, content_type, body, fetched_at "
                               "FROM responses ORDER BY key").fetchall()
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
                    if row is not None and row[0] >= e["fetched_at"]:
                        kept += 1
                        continue
                    con.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                                (e["key"], e["service"], e["content_type"], e["body"],
                                 e["fetched_at"]))
                    added, updated = (added + 1, updated) if row is None else (added, updated + 1)
        except sqlite3.Error as exc:
            raise CacheError(f"cannot write the response cache {self.path} ({exc})") from None
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
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise bad("'entries' is not a list")
    out = []
    for i, e in enumerate(entries):
        ok = (isinstance(e, dict) and isinstance(e.get("key"), str)
              and e.get("service") in SERVICE_NAMES and isinstance(e.get("body"), str)
              and isinstance(e.get("content_type"), str)
              and isinstance(e.get("fetched_at"), int | float)
              and e.get("encoding") in ("utf-8", "base64")
              and e["key"].startswith(e["service"] + " "))
        if not ok:
            raise bad(f"entry #{i + 1} is malformed")
        try:
            body = (e["body"].encode("utf-8") if e["encoding"] == "utf-8"
                    else base64.b64decode(e["body"], validate=True))
        except ValueError:
            raise bad(f"entry #{i + 1} has a corrupt body") from None
        out.append({**e, "body": body, "fetched_at": float(e["fetched_at"])})
    return out
