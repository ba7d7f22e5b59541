"""Semantic Scholar on the `semanticscholar` package: papers by arXiv id, DOI, S2 id or title;
references and citations with intents, contexts and influence flags (all pages); and
recommendations for one or several seed papers.

The package builds the URLs, walks the pages and parses the objects. Its HTTP layer is replaced
by `_Requester` (a subclass of its `ApiRequester`) because, as shipped (see
../shared/fixtures/README.md), it
- forgets the API key on references and citations: we send SEMANTIC_SCHOLAR_API_KEY on every
  request;
- retries 429 for minutes with its own fixed back-off, ignoring Retry-After, and ends in
  `tenacity.RetryError`: we honour Retry-After within a bounded budget (`sources.cache`);
- returns an all-None Paper for a 5xx (no exception): we raise `ServiceUnavailable`, and still
  check every paper for that sign;
- has no cache: every successful response goes through `ResponseCache`.
Fields are always explicit, never the package's defaults (which pull 1,000 embedded citations).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

import httpx
from semanticscholar.ApiRequester import ApiRequester
from semanticscholar.AsyncSemanticScholar import AsyncSemanticScholar
from semanticscholar.SemanticScholarException import NoMorePagesException

from workbench.sources import (
    BadRequest,
    BadResponse,
    NotFound,
    ServiceUnavailable,
    Settings,
    SourceError,
    Timeout,
)
from workbench.sources.cache import HttpReply, ResponseCache, throttle

log = logging.getLogger(__name__)

PAPER_FIELDS = ("paperId", "externalIds", "title", "year", "authors", "venue", "abstract",
                "citationCount", "influentialCitationCount", "url")
LINK_FIELDS = ("contexts", "intents", "isInfluential",  # the edge
               "paperId", "externalIds", "title", "year", "authors", "venue")  # the other paper


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S2Paper:
    paper_id: str | None  # None for a reference S2 could not resolve to a paper
    title: str | None
    year: int | None = None
    authors: tuple[str, ...] = ()
    venue: str | None = None
    abstract: str | None = None
    arxiv: str | None = None
    doi: str | None = None
    citation_count: int | None = None
    influential_citation_count: int | None = None
    url: str | None = None

    @classmethod
    def from_json(cls, data: dict | None) -> S2Paper:
        """From the API's JSON for a paper (the package's `raw_data`: some of its properties
        are broken, e.g. `Paper.url` raises AttributeError)."""
        data = data or {}
        ext = data.get("externalIds") or {}
        title, abstract = data.get("title"), data.get("abstract")
        return cls(
            paper_id=data.get("paperId"),
            title=" ".join(title.split()) if title else None,
            year=data.get("year"),
            authors=tuple(a["name"] for a in (data.get("authors") or [])
                          if isinstance(a, dict) and a.get("name")),
            venue=data.get("venue") or None,
            abstract=" ".join(abstract.split()) if abstract else None,
            arxiv=ext.get("ArXiv") or None,
            doi=ext.get("DOI") or None,
            citation_count=data.get("citationCount"),
            influential_citation_count=data.get("influentialCitationCount"),
            url=data.get("url"),
        )


@dataclass(frozen=True)
class CitationLink:
    """One edge: the paper at the other end, why it is cited, and where."""

    paper: S2Paper
    intents: tuple[str, ...] = ()  # 'background', 'methodology', 'result'
    contexts: tuple[str, ...] = ()  # the citing sentences
    is_influential: bool = False

    @classmethod
    def from_package(cls, item) -> CitationLink:
        paper = S2Paper.from_json(item.paper.raw_data if item.paper is not None else None)
        return cls(paper, tuple(item.intents or ()), tuple(item.contexts or ()),
                   bool(item.isInfluential))


def s2_paper_id(ref: str) -> str:
    """The S2 form of a reference: arXiv id or URL -> 'ARXIV:1706.03762'; DOI (or doi.org URL)
    -> the bare DOI; S2 ids, 'CorpusId:...', 'ARXIV:...' and others pass through."""
    from workbench.sources.arxiv import base_id, parse_arxiv_ref

    ref = ref.strip()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", ref, flags=re.IGNORECASE)
    if re.match(r"10\.\d{4,9}/\S+$", doi):
        return doi
    arxiv_id = parse_arxiv_ref(ref)
    if arxiv_id:
        return f"ARXIV:{base_id(arxiv_id)}"
    return ref


# --- transport ---------------------------------------------------------------------------------


def _error_text(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body[:120].decode("utf-8", "replace").strip() or "no details"
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)[:200]
    return str(data)[:200]


def _check_json(what: str):
    def check(body: bytes) -> None:
        try:
            json.loads(body)
        except (ValueError, UnicodeDecodeError):
            start = body[:60].decode("utf-8", "replace").strip()
            raise BadResponse(f"Semantic Scholar sent a body that is not JSON for {what} "
                              f"(starts {start!r}: HTML, truncated or garbled); try again later"
                              ) from None
    return check


class _Requester(ApiRequester):
    """The package's requester with our policies: API key always, timeout, spacing, back-off
    honouring Retry-After, the cache, typed errors."""

    def __init__(self, cache: ResponseCache, settings: Settings):
        super().__init__(timeout=settings.timeout_s, retry=False)
        self.cache, self.settings = cache, settings
        self.what = "a request"  # set by the client before each call

    async def get_data_async(self, url: str, parameters: str, headers: dict | None,
                             payload: dict | None = None):
        # Blocking I/O and the sqlite cache run in a worker thread; the loop stays free.
        return await asyncio.to_thread(self._get, url, parameters, headers, payload)

    def _get(self, url: str, parameters: str, headers: dict | None, payload: dict | None):
        params = parse_qsl(parameters.lstrip("&"), keep_blank_values=True)
        method = "POST" if payload else "GET"
        headers = dict(headers or {})
        if self.settings.s2_api_key:  # the package omits it on references and citations
            headers["x-api-key"] = self.settings.s2_api_key
        base_path = urlsplit(self.settings.s2_url).path.rstrip("/")
        path = urlsplit(url).path
        rel = path[len(base_path):] if base_path and path.startswith(base_path) else path
        key = f"s2 {method} {rel}?{urlencode(sorted(params))}"
        if payload:
            key += " " + json.dumps(payload, sort_keys=True)
        what, timeout = self.what, self.settings.timeout_s

        def send_once() -> HttpReply:
            throttle("s2", self.settings.s2_delay_s)
            try:
                with httpx.Client(timeout=timeout) as client:
                    r = client.request(method, url, params=params, headers=headers, json=payload)
            except httpx.TimeoutException:
                raise Timeout(f"Semantic Scholar did not answer within {timeout:g} s for "
                              f"{what}; try again later") from None
            except httpx.RemoteProtocolError as exc:
                raise BadResponse(f"Semantic Scholar's answer for {what} was cut off ({exc}); "
                                  "try again") from None
            except httpx.TransportError as exc:
                raise ServiceUnavailable(f"cannot reach Semantic Scholar at "
                                         f"{urlsplit(url).netloc} for {what} ({exc}); check "
                                         "the network") from None
            return HttpReply(r.status_code, r.content,
                             {k.lower(): v for k, v in r.headers.items()})

        reply = self.cache.fetch(key, send_once, service="s2", what=what,
                                 validate=_check_json(what))
        if reply.status == 200:
            data = json.loads(reply.body)
            if isinstance(data, dict) and set(data) == {"error"}:
                raise BadResponse(f"Semantic Scholar answered {what} with an error: "
                                  f"{data['error']}")
            return data
        detail = _error_text(reply.body)
        if reply.status == 404:
            raise NotFound(detail)
        if reply.status == 400:
            raise BadRequest(f"Semantic Scholar rejected the request for {what}: {detail}")
        if reply.status in (401, 403):
            raise SourceError(f"Semantic Scholar refused {what} (HTTP {reply.status}): check "
                              "SEMANTIC_SCHOLAR_API_KEY, or unset it")
        raise SourceError(f"Semantic Scholar answered HTTP {reply.status} for {what}: {detail}")


class _Api(AsyncSemanticScholar):
    """The package's client with our requester."""

    def __init__(self, api_url: str, requester: _Requester):
        super().__init__(api_url=api_url, retry=False)
        self._requester = requester

    @property
    def debug(self) -> bool:
        return False

    @debug.setter
    def debug(self, value: bool) -> None:
        """The package's setter calls logging.basicConfig(); a library must not."""


def _run(coro):
    """Run a coroutine to completion from sync code, also inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


# --- the client --------------------------------------------------------------------------------


class SemanticScholarClient:
    """Semantic Scholar lookups through the `semanticscholar` package, cached, typed errors."""

    def __init__(self, cache: ResponseCache, settings: Settings | None = None):
        self.settings = settings or cache.settings
        self._requester = _Requester(cache, self.settings)
        self._api = _Api(self.settings.s2_url, self._requester)

    def _call(self, what: str, make_coro):
        self._requester.what = what
        try:
            return _run(make_coro())
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise BadResponse(f"Semantic Scholar sent an unexpected shape for {what} "
                              f"({type(exc).__name__}: {exc}); try again later") from None

    def paper(self, ref: str, fields: Sequence[str] = PAPER_FIELDS) -> S2Paper:
        """A paper by arXiv id/URL, DOI, S2 id or 'CorpusId:N'; `NotFound` names the id."""
        pid = s2_paper_id(ref)
        what = f"paper {pid}"
        try:
            p = self._call(what, lambda: self._api.get_paper(quote(pid, safe="/:"),
                                                              fields=list(fields)))
        except NotFound:
            raise NotFound(f"Semantic Scholar has no paper with id {pid}; check the id") from None
        if p.paperId is None:  # the package's sign of a server error: an all-None Paper
            raise BadResponse(f"Semantic Scholar returned an empty paper for {pid}; "
                              "try again later")
        return S2Paper.from_json(p.raw_data)

    def match_title(self, title: str, fields: Sequence[str] = PAPER_FIELDS) -> S2Paper:
        """The paper whose title best matches `title` (S2 /paper/search/match)."""
        title = " ".join(title.split())
        what = f"title match {title!r}"
        try:
            # the package pastes the query into the URL unescaped: escape it first
            p = self._call(what, lambda: self._api.search_paper(
                quote_plus(title), fields=list(fields), match_title=True))
        except (NotFound, IndexError):
            raise NotFound(f"Semantic Scholar found no paper titled {title!r}") from None
        if p.paperId is None:
            raise BadResponse(f"Semantic Scholar returned an empty match for {title!r}")
        return S2Paper.from_json(p.raw_data)

    def _links(self, kind: str, ref: str, fields: Sequence[str], page_size: int,
               max_items: int) -> list[CitationLink]:
        pid = s2_paper_id(ref)
        what = f"{kind} of {pid}"
        fetch = (self._api.get_paper_references if kind == "references"
                 else self._api.get_paper_citations)
        try:
            results = self._call(what, lambda: fetch(quote(pid, safe="/:"), fields=list(fields),
                                                     limit=page_size))
            while len(results.items) < max_items:
                try:
                    self._call(what, results.async_next_page)
                except NoMorePagesException:
                    break
        except NotFound:
            raise NotFound(f"Semantic Scholar has no paper with id {pid}; check the id") from None
        return [CitationLink.from_package(item) for item in results.items[:max_items]]

    def references(self, ref: str, fields: Sequence[str] = LINK_FIELDS, page_size: int = 100,
                   max_items: int = 1000) -> list[CitationLink]:
        """What `ref` cites, with intents, contexts and isInfluential; every page up to
        `max_items`."""
        return self._links("references", ref, fields, page_size, max_items)

    def citations(self, ref: str, fields: Sequence[str] = LINK_FIELDS, page_size: int = 100,
                  max_items: int = 1000) -> list[CitationLink]:
        """What cites `ref`, with intents, contexts and isInfluential; every page up to
        `max_items`."""
        return self._links("citations", ref, fields, page_size, max_items)

    def recommendations(self, seeds: str | Sequence[str], negative: Sequence[str] = (),
                        fields: Sequence[str] = PAPER_FIELDS, limit: int = 100,
                        pool: str = "recent") -> list[S2Paper]:
        """Papers like the seed(s) (and unlike `negative`): one seed uses /forpaper, several
        the list endpoint. `pool` is 'recent' or 'all-cs' (single seed only)."""
        seeds = [seeds] if isinstance(seeds, str) else list(seeds)
        if not seeds:
            raise SourceError("recommendations need at least one seed paper")
        if not 1 <= limit <= 500:
            raise SourceError(f"limit must be between 1 and 500, got {limit}")
        pos = [s2_paper_id(s) for s in seeds]
        neg = [s2_paper_id(s) for s in negative]
        what = f"recommendations for {', '.join(pos)}"
        try:
            if len(pos) == 1 and not neg:
                if pool not in ("recent", "all-cs"):
                    raise SourceError(f"pool must be 'recent' or 'all-cs', got {pool!r}")
                papers = self._call(what, lambda: self._api.get_recommended_papers(
                    quote(pos[0], safe="/:"), fields=list(fields), limit=limit, pool_from=pool))
            else:
                papers = self._call(what, lambda: self._api.get_recommended_papers_from_lists(
                    pos, neg, fields=list(fields), limit=limit))
        except NotFound:
            raise NotFound(f"Semantic Scholar has no paper among {', '.join(pos + neg)}"
                           ) from None
        return [S2Paper.from_json(p.raw_data) for p in papers if p.paperId is not None]
