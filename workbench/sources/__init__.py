"""Paper metadata and citation data from arXiv and Semantic Scholar, offline-first.

`open_sources(workspace)` gives the two clients sharing one on-disk response cache:

    src = open_sources(ws)                  # online, cache-first
    src.arxiv.entry("1706.03762")           # -> catalog entry dict
    src.s2.references("ARXIV:1706.03762")   # -> [CitationLink(paper, intents, contexts, ...)]
    src.notices                             # "served from the cache because ..." lines to show

Every setting comes from the environment (see `Settings.from_env`) so tests and browser tests
can point both clients at a local server. Every failure is a `SourceError` subclass whose text
is one actionable line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from workbench.errors import InvalidId as _InvalidSlug
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.sources.arxiv import ArxivClient
    from workbench.sources.cache import ResponseCache
    from workbench.sources.semantic_scholar import SemanticScholarClient
    from workbench.workspace import Workspace


# --- errors ------------------------------------------------------------------------------------


class SourceError(WorkbenchError):
    """A metadata service could not give an answer."""


class SourceConfigError(SourceError):
    """A WORKBENCH_* setting in the environment is malformed."""


class NotFound(SourceError):
    """The service answered, and it has no such paper (S2: HTTP 404)."""


class UnknownId(NotFound):
    """arXiv answered 200 with no entry: the id is well formed but does not exist."""


class InvalidId(SourceError, _InvalidSlug):
    """The id is malformed (arXiv: HTTP 400 with an Atom error entry)."""


class BadRequest(SourceError):
    """The service refused the request's parameters (HTTP 400 from Semantic Scholar)."""


class BadResponse(SourceError):
    """The body is not what the API sends: HTML, garbage, truncated, or an empty object."""


class ServiceUnavailable(SourceError):
    """The service cannot be reached (connection refused, DNS) or failed with HTTP 5xx."""


class Timeout(ServiceUnavailable):
    """No answer within the configured timeout."""


class RateLimited(ServiceUnavailable):
    """HTTP 429 (or 503 with Retry-After) for longer than the retry budget allows."""


class OfflineMiss(SourceError):
    """Offline mode (or a failed network) and the response is not in the cache."""


# --- settings ----------------------------------------------------------------------------------

ARXIV_URL = "https://export.arxiv.org/api/query"
ARXIV_PDF_URL = "https://arxiv.org/pdf"
S2_URL = "https://api.semanticscholar.org"
TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Where the services live and how patiently we talk to them.

    The defaults follow the services' published limits: arXiv asks for one request every 3 s;
    Semantic Scholar allows 1 request/s with a key (unauthenticated callers share a pool).
    """

    arxiv_url: str = ARXIV_URL  # WORKBENCH_ARXIV_URL: the query endpoint, no '?'
    arxiv_pdf_url: str = ARXIV_PDF_URL  # WORKBENCH_ARXIV_PDF_URL: PDFs are <this>/<id>
    s2_url: str = S2_URL  # WORKBENCH_S2_URL: the API root; the package appends /graph/v1
    s2_api_key: str | None = None  # SEMANTIC_SCHOLAR_API_KEY, sent on every S2 request
    timeout_s: float = 20.0  # WORKBENCH_HTTP_TIMEOUT: per request (connect and each read)
    retry_budget_s: float = 60.0  # WORKBENCH_RETRY_BUDGET: total back-off on 429 before giving up
    arxiv_delay_s: float = 3.0  # WORKBENCH_ARXIV_DELAY: min seconds between arXiv requests
    s2_delay_s: float = 1.0  # WORKBENCH_S2_DELAY: min seconds between S2 requests
    offline: bool = False  # WORKBENCH_OFFLINE=1: answer from the cache only
    max_age_days: float = 30.0  # WORKBENCH_CACHE_MAX_AGE_DAYS: older entries are re-fetched

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> Settings:
        env = os.environ if environ is None else environ

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise SourceConfigError(f"{name}={raw!r} is not a number; unset it or give "
                                        "seconds, e.g. 20") from None
            if value < 0:
                raise SourceConfigError(f"{name}={raw!r} must not be negative")
            return value

        def url(name: str, default: str) -> str:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            if not raw.startswith(("http://", "https://")):
                raise SourceConfigError(f"{name}={raw!r} must be an http(s) URL")
            return raw.rstrip("/")

        settings = cls(
            arxiv_url=url("WORKBENCH_ARXIV_URL", ARXIV_URL),
            arxiv_pdf_url=url("WORKBENCH_ARXIV_PDF_URL", ARXIV_PDF_URL),
            s2_url=url("WORKBENCH_S2_URL", S2_URL),
            s2_api_key=env.get("SEMANTIC_SCHOLAR_API_KEY", "").strip() or None,
            timeout_s=number("WORKBENCH_HTTP_TIMEOUT", cls.timeout_s),
            retry_budget_s=number("WORKBENCH_RETRY_BUDGET", cls.retry_budget_s),
            arxiv_delay_s=number("WORKBENCH_ARXIV_DELAY", cls.arxiv_delay_s),
            s2_delay_s=number("WORKBENCH_S2_DELAY", cls.s2_delay_s),
            offline=env.get("WORKBENCH_OFFLINE", "").strip().lower() in TRUE,
            max_age_days=number("WORKBENCH_CACHE_MAX_AGE_DAYS", cls.max_age_days),
        )
        if settings.timeout_s == 0:
            raise SourceConfigError("WORKBENCH_HTTP_TIMEOUT must be above 0 seconds")
        return replace(settings, **overrides)


@dataclass
class Sources:
    """Both clients and the cache they share; `notices` collects what the user should see."""

    cache: ResponseCache
    arxiv: ArxivClient
    s2: SemanticScholarClient
    settings: Settings

    @property
    def offline(self) -> bool:
        return self.cache.offline

    @property
    def notices(self) -> list[str]:
        return self.cache.notices


def open_sources(workspace: Workspace, *, offline: bool | None = None,
                 settings: Settings | None = None) -> Sources:
    """Clients for `workspace`'s cache; `offline=None` follows WORKBENCH_OFFLINE."""
    from workbench.sources.arxiv import ArxivClient
    from workbench.sources.cache import ResponseCache
    from workbench.sources.semantic_scholar import SemanticScholarClient

    settings = settings or Settings.from_env()
    if offline is not None:
        settings = replace(settings, offline=offline)
    cache = ResponseCache.for_workspace(workspace, settings)
    return Sources(cache, ArxivClient(cache, settings), SemanticScholarClient(cache, settings),
                   settings)


# the clients' own public names; imported last, because those modules import the errors and
# settings above (the package is their base)
from workbench.sources.arxiv import base_id, parse_arxiv_ref  # noqa: E402
from workbench.sources.cache import DB_NAME, ResponseCache, throttle  # noqa: E402
from workbench.sources.semantic_scholar import S2Paper  # noqa: E402

__all__ = [
    "ARXIV_PDF_URL", "ARXIV_URL", "BadRequest", "BadResponse", "DB_NAME", "InvalidId",
    "NotFound", "OfflineMiss", "RateLimited", "ResponseCache", "S2Paper", "ServiceUnavailable",
    "Settings", "SourceConfigError", "SourceError", "Sources", "Timeout", "UnknownId",
    "base_id", "open_sources", "parse_arxiv_ref", "throttle",
]
