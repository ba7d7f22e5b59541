"""arXiv metadata on the `arxiv` package: by id (new or old style, any version), by abs/pdf
URL, and search; each result as a catalog entry dict.

What the package leaves to us (see ../shared/fixtures/README.md):
- it sends requests without a timeout and retries without back-off: its session gets
  `_PolicyAdapter` (a requests transport adapter) that adds the timeout, the process-wide
  3 s spacing arXiv asks for, back-off on 429, and the on-disk cache (`sources.cache`);
- an unknown id is HTTP 200 with no entry -> `UnknownId`; a malformed id is HTTP 400 with an
  Atom error entry -> `InvalidId`;
- its parser recovers silently from HTML or a truncated body and yields "no results", so a body
  is parsed strictly before it counts as an answer -> `BadResponse`.
The base URL is the package's `query_url_format`, set on each client instance.
"""

from __future__ import annotations

import io
import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import arxiv
import requests
import urllib3
from requests.adapters import HTTPAdapter

from workbench.sources import (
    BadResponse,
    InvalidId,
    ServiceUnavailable,
    Settings,
    SourceError,
    Timeout,
    UnknownId,
)
from workbench.sources.cache import HttpReply, ResponseCache, throttle

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
NEW_ID = r"\d{4}\.\d{4,5}"  # 0704.0001 .. 2412.12345 (since April 2007)
OLD_ID = r"[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}"  # hep-th/9901001, math.GT/0309136
_ID_RE = re.compile(rf"(?P<id>{NEW_ID}|{OLD_ID})(?P<version>v\d+)?")
_PREFIX_RE = re.compile(r"^arxiv:\s*", re.IGNORECASE)
_URL_RE = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/"
    rf"(?P<ref>(?:{NEW_ID}|{OLD_ID})(?:v\d+)?)(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
EXAMPLES = "e.g. 1706.03762, 1706.03762v5, cs/0112017 or https://arxiv.org/abs/1706.03762"


def parse_arxiv_ref(text: str) -> str | None:
    """The arXiv id in an id, 'arXiv:' id, or abs/pdf URL (version kept), else None.

    '1706.03762v5' -> '1706.03762v5'; 'https://arxiv.org/pdf/hep-th/9901001v2.pdf' ->
    'hep-th/9901001v2'; 'Attention is all you need' -> None.
    """
    text = text.strip()
    url = _URL_RE.match(text)
    if url:
        text = url.group("ref")
    text = _PREFIX_RE.sub("", text)
    match = _ID_RE.fullmatch(text)
    if not match or not _plausible(match.group("id")):
        return None
    return match.group(0)


def _plausible(arxiv_id: str) -> bool:
    """New-style ids are YYMM.NNNN up to 1412 and YYMM.NNNNN from 1501 on, so '1706.0376' is
    a truncated id, not a paper."""
    if "/" in arxiv_id:
        return True
    yymm, number = arxiv_id.split(".")
    return len(number) == (5 if int(yymm) >= 1501 else 4)


def base_id(arxiv_id: str) -> str:
    """'1706.03762v5' -> '1706.03762' (the id the catalog stores)."""
    return re.sub(r"v\d+$", "", arxiv_id.strip())


def to_entry(result: arxiv.Result) -> dict:
    """A catalog entry dict from one `arxiv.Result` (year = first version's year)."""
    short = result.get_short_id()
    doi = (result.doi or "").strip()
    doi = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", "", doi, flags=re.IGNORECASE)
    return {
        "title": " ".join(result.title.split()),
        "authors": [" ".join(a.name.split()) for a in result.authors if a.name.strip()],
        "year": result.published.year,
        "abstract": " ".join(result.summary.split()) or None,
        "categories": list(result.categories),
        "doi": doi or None,
        "pdf_url": result.pdf_url,
        "arxiv": base_id(short),
        "version": short[len(base_id(short)):] or None,
        "journal_ref": result.journal_ref or None,
    }


# --- transport: timeout, spacing, back-off, cache --------------------------------------------


def _canonical_query(url: str) -> str:
    """The request's query with sorted parameters: the cache key, independent of the base URL."""
    pairs = sorted(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    return urlencode(pairs)


def _check_atom(what: str):
    """A validator: the body must parse strictly as an Atom <feed> (no recovery, no entities)."""
    def check(body: bytes) -> None:
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        try:
            root = etree.fromstring(body, parser)
        except etree.XMLSyntaxError as exc:
            raise BadResponse(f"arXiv sent a body that is not an Atom feed for {what} "
                              f"(HTML, truncated or garbled: {exc}); try again later") from None
        if root is None or root.tag != f"{ATOM}feed":
            tag = getattr(root, "tag", "nothing")
            raise BadResponse(f"arXiv sent <{tag}>, not an Atom feed, for {what} (an error "
                              "or login page?); try again later")
    return check


def _error_summary(body: bytes) -> str | None:
    """The text of arXiv's Atom error entry ('incorrect id format for abc'), if any."""
    from lxml import etree

    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    summary = root.find(f"{ATOM}entry/{ATOM}summary") if root is not None else None
    return " ".join(summary.text.split()) if summary is not None and summary.text else None


class _PolicyAdapter(HTTPAdapter):
    """Every request the package sends goes through `ResponseCache.fetch` with a timeout."""

    def __init__(self, cache: ResponseCache, settings: Settings, what: str):
        super().__init__()
        self.cache, self.settings, self.what = cache, settings, what
        self.last_error: HttpReply | None = None

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        def send_once() -> HttpReply:
            throttle("arxiv", self.settings.arxiv_delay_s)
            url = request.url
            try:
                resp = HTTPAdapter.send(self, request, stream=False,
                                        timeout=self.settings.timeout_s, verify=verify,
                                        cert=cert, proxies=proxies)
                body = resp.content  # read it all here, so a cut-off body surfaces now
            except requests.exceptions.Timeout:
                raise Timeout(f"arXiv did not answer within {self.settings.timeout_s:g} s "
                              f"for {self.what}; try again later") from None
            except (requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError):
                raise BadResponse(f"arXiv's answer for {self.what} was cut off mid-way; try "
                                  "again") from None
            except requests.exceptions.ConnectionError as exc:
                cause = exc.args[0] if exc.args else None
                if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
                    raise Timeout(f"arXiv stopped answering within {self.settings.timeout_s:g} s "
                                  f"for {self.what}; try again later") from None
                host = urlsplit(url).netloc
                why = "connection refused" if "refused" in str(exc).lower() else "no connection"
                raise ServiceUnavailable(f"cannot reach arXiv at {host} for {self.what} "
                                         f"({why}); check the network") from None
            return HttpReply(resp.status_code, body,
                             {k.lower(): v for k, v in resp.headers.items()})

        key = f"arxiv GET ?{_canonical_query(request.url)}"
        reply = self.cache.fetch(key, send_once, service="arxiv", what=self.what,
                                 validate=_check_atom(self.what))
        if reply.status != 200:
            self.last_error = reply
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(reply.body), status=reply.status, preload_content=False,
            headers={"content-type": reply.content_type or "application/atom+xml"},
        )
        return self.build_response(request, raw)


# --- the client ---------------------------------------------------------------------------------


class ArxivClient:
    """arXiv lookups through the `arxiv` package, cached and with typed errors."""

    def __init__(self, cache: ResponseCache, settings: Settings | None = None):
        self.cache = cache
        self.settings = settings or cache.settings

    def _run(self, search: arxiv.Search, page_size: int, what: str) -> list[dict]:
        client = arxiv.Client(page_size=page_size, delay_seconds=0, num_retries=0)
        # spacing and retries live in _PolicyAdapter (the package's have no back-off)
        fmt = self.settings.arxiv_url.replace("{", "{{").replace("}", "}}")
        client.query_url_format = fmt + "?{}"
        adapter = _PolicyAdapter(self.cache, self.settings, what)
        # the package offers no way to pass a session; its private one gets our adapter
        client._session.mount("http://", adapter)
        client._session.mount("https://", adapter)
        try:
            results = list(client.results(search))
        except arxiv.HTTPError as exc:
            body = adapter.last_error.body if adapter.last_error else b""
            detail = _error_summary(body)
            if exc.status == 400:
                raise InvalidId(f"arXiv rejected {what}: {detail or 'invalid id'} ({EXAMPLES})"
                                ) from None
            raise SourceError(f"arXiv answered HTTP {exc.status} for {what}"
                              + (f": {detail}" if detail else "") + "; try again later") from None
        except arxiv.UnexpectedEmptyPageError:
            raise BadResponse(f"arXiv sent an empty page in the middle of {what}; try "
                              "again later") from None
        for r in results:  # an old-style error feed answered with 200
            if "/api/errors" in r.entry_id:
                raise InvalidId(f"arXiv rejected {what}: {' '.join(r.summary.split())} "
                                f"({EXAMPLES})")
        return [to_entry(r) for r in results]

    def entries(self, ids: list[str]) -> list[dict]:
        """Entries for the ids arXiv knows, in its order; unknown ids are simply absent.
        The ids are sent as given, so a malformed one meets arXiv's own 400 (`InvalidId`)."""
        if not ids:
            return []
        what = f"id{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
        return self._run(arxiv.Search(id_list=list(ids), max_results=len(ids)), 100, what)

    def entry(self, ref: str) -> dict:
        """The entry for an id, 'arXiv:' id, or abs/pdf URL; `UnknownId` if arXiv has none."""
        arxiv_id = parse_arxiv_ref(ref)
        if arxiv_id is None:
            raise InvalidId(f"{ref.strip()[:80]!r} is not an arXiv id or URL ({EXAMPLES})")
        found = self.entries([arxiv_id])
        if not found:
            raise UnknownId(f"arXiv has no paper {arxiv_id}; check the id ({EXAMPLES})")
        return found[0]

    def search(self, query: str, max_results: int = 10, page_size: int | None = None
               ) -> list[dict]:
        """Up to `max_results` entries for an arXiv query ('ti:"attention is all"', 'au:he')."""
        if not query.strip():
            raise SourceError("the arXiv search query is empty; give words to search for")
        max_results = max(1, min(int(max_results), 2000))
        page = max(1, min(page_size or max_results, 100))
        search = arxiv.Search(query=query, max_results=max_results)
        return self._run(search, page, f"search {query!r}")

    def find_title(self, title: str) -> dict | None:
        """The arXiv entry whose normalised title equals `title`'s, if the title search has it."""
        from workbench.catalog import normalise_title

        words = normalise_title(title)
        if not words:
            return None
        for entry in self.search(f'ti:"{words}"', max_results=5):
            if normalise_title(entry["title"]) == words:
                return entry
        return None
