"""A local stand-in for arXiv and Semantic Scholar: recorded responses plus injected faults.

    with FakeServices() as fake:
        fake.load_fixtures(DATA)                      # arXiv JSON goldens + S2 vcrpy cassettes
        fake.fail("/graph/v1/paper/", Fault(429, retry_after="0"))    # next matching request
        os.environ["WORKBENCH_ARXIV_URL"] = fake.arxiv_url
        os.environ["WORKBENCH_S2_URL"] = fake.s2_url

One threaded `http.server` on 127.0.0.1, port 0. Routes match on method + path + query
parameters (a route's recorded parameters must all be present with the same values; sorted
order does not matter) and, for POST, the JSON body. Unmatched requests get 599 and are listed
in `unmatched`, so a test fails loudly instead of the client seeing a plausible answer.
`closed_port_url()` gives a URL where nothing listens (connection refused).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

DATA = Path(__file__).parent / "data" / "sources"  # recorded responses shipped with the tests
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_TYPE = "application/json"
S2_HOST = "api.semanticscholar.org"


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """A response that replaces the routed one: a status (optionally with Retry-After), a body
    cut off mid-way, an HTML page, or a delay before answering."""

    status: int = 200
    retry_after: str | None = None
    kind: str = "status"  # status | truncated | html | slow
    delay_s: float = 0.0

    @classmethod
    def truncated(cls) -> Fault:
        return cls(kind="truncated")

    @classmethod
    def html(cls) -> Fault:
        return cls(kind="html")

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        return cls(kind="slow", delay_s=delay_s)


@dataclass
class Route:
    method: str
    path: str
    params: dict[str, str]
    body: object  # parsed JSON the POST body must equal, or None
    response: Response


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


def _params(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


class FakeServices:
    def __init__(self):
        self.routes: list[Route] = []
        self.faults: list[tuple[str, Fault, bool]] = []  # (path prefix, fault, forever)
        self.requests: list[Seen] = []
        self.unmatched: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    # lifecycle

    def __enter__(self) -> FakeServices:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def arxiv_url(self) -> str:
        return f"{self.url}/api/query"

    @property
    def s2_url(self) -> str:
        return self.url

    @property
    def pdf_url(self) -> str:
        return f"{self.url}/pdf"

    def point_env(self, monkeypatch, timeout_s: float = 1.0, retry_budget_s: float = 3.0) -> None:
        """Point the workbench's source clients (via WORKBENCH_* variables) at this server,
        with no request spacing, a short timeout and a short retry budget."""
        monkeypatch.setenv("WORKBENCH_ARXIV_URL", self.arxiv_url)
        monkeypatch.setenv("WORKBENCH_ARXIV_PDF_URL", self.pdf_url)
        monkeypatch.setenv("WORKBENCH_S2_URL", self.s2_url)
        monkeypatch.setenv("WORKBENCH_ARXIV_DELAY", "0")
        monkeypatch.setenv("WORKBENCH_S2_DELAY", "0")
        monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", str(timeout_s))
        monkeypatch.setenv("WORKBENCH_RETRY_BUDGET", str(retry_budget_s))

    # routes

    def add(self, method: str, path: str, *, params: dict | None = None, json_body=None,
            status: int = 200, body: bytes | str = b"", content_type: str = JSON_TYPE,
            headers: dict | None = None) -> None:
        """Serve `body` for `method path` when the request has all of `params`."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        hdrs = {"Content-Type": content_type, **(headers or {})}
        with self._lock:
            self.routes.append(Route(method.upper(), unquote(path), dict(params or {}),
                                     json_body, Response(status, data, hdrs)))

    def add_json(self, method: str, path: str, data, **kw) -> None:
        self.add(method, path, body=json.dumps(data), content_type=JSON_TYPE, **kw)

    def add_atom(self, params: dict, atom: str | bytes, status: int = 200) -> None:
        """An arXiv answer for the query endpoint (path /api/query)."""
        self.add("GET", "/api/query", params=params, body=atom, status=status,
                 content_type=ATOM_TYPE)

    def load_arxiv_fixture(self, path: Path) -> None:
        """An arxiv.py golden file: {url, status_code, body (latin-1 str)}."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        url = urlsplit(doc["url"])
        self.add("GET", "/api/query", params=_params(url.query),
                 body=doc["body"].encode("latin-1"), status=doc["status_code"],
                 content_type=ATOM_TYPE)

    def load_cassette(self, path: Path, match: tuple[str, ...] | None = None) -> int:
        """Every Semantic Scholar interaction of a vcrpy cassette (both layouts); `match`
        limits the query parameters that must agree (e.g. ('query',) for a title match
        recorded with another client's `fields`). Returns the number loaded."""
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        n = 0
        for it in doc.get("interactions", []):
            req, resp = it["request"], it["response"]
            url = urlsplit(req["uri"])
            if url.hostname != S2_HOST:
                continue
            if isinstance(resp.get("status"), dict):
                status, body = resp["status"]["code"], resp["body"]["string"]
            else:  # httpx-stub layout
                status, body = resp["status_code"], resp.get("content", "")
            params = _params(url.query)
            if match is not None:
                params = {k: v for k, v in params.items() if k in match}
            req_body = json.loads(req["body"]) if req.get("body") else None
            self.add(req["method"], url.path, params=params, json_body=req_body, status=status,
                     body=body if isinstance(body, bytes) else body.encode("utf-8"))
            n += 1
        return n

    def load_fixtures(self, folder: Path) -> None:
        """Every arXiv golden (*.json with a 'url') and S2 cassette (*.yaml) under `folder`."""
        for f in sorted(Path(folder).rglob("*.json")):
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except ValueError:
                continue
            if isinstance(doc, dict) and {"url", "status_code", "body"} <= set(doc):
                self.load_arxiv_fixture(f)
        for f in sorted(Path(folder).rglob("*.yaml")):
            self.load_cassette(f)

    def fail(self, path_prefix: str, *faults: Fault) -> None:
        """The next len(faults) requests under `path_prefix` get these faults, in order."""
        with self._lock:
            self.faults.extend((path_prefix, f, False) for f in faults)

    def fail_forever(self, path_prefix: str, fault: Fault) -> None:
        with self._lock:
            self.faults.append((path_prefix, fault, True))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def seen(self, path_prefix: str = "") -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # serving

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, (prefix, fault, forever) in enumerate(self.faults):
                if path.startswith(prefix):
                    if not forever:
                        del self.faults[i]
                    return fault
        return None

    def _route(self, seen: Seen) -> Response | None:
        body = None
        if seen.body:
            try:
                body = json.loads(seen.body)
            except ValueError:
                body = None
        candidates = [r for r in self.routes
                      if r.method == seen.method and r.path == seen.path
                      and all(seen.params.get(k) == v for k, v in r.params.items())
                      and (r.body is None or r.body == body)]
        if not candidates:
            return None
        return max(candidates, key=lambda r: len(r.params)).response

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _serve(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, unquote(url.path), _params(url.query),
                            {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length) if length else b"")
                with fake._lock:
                    fake.requests.append(seen)
                fault = fake._take_fault(seen.path)
                resp = fake._route(seen)
                if resp is None:
                    with fake._lock:
                        fake.unmatched.append(seen)
                    resp = Response(599, b'{"error": "no fake route"}',
                                    {"Content-Type": JSON_TYPE})
                try:
                    self._answer(resp, fault)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def _answer(self, resp: Response, fault: Fault | None):
                body, status, headers = resp.body, resp.status, dict(resp.headers)
                if fault is not None and fault.kind == "slow":
                    time.sleep(fault.delay_s)
                elif fault is not None and fault.kind == "html":
                    status, body = 200, (b"<!DOCTYPE html><html><head><title>Just a moment..."
                                         b"</title></head><body>Checking your browser</body>"
                                         b"</html>")
                    headers = {"Content-Type": "text/html; charset=utf-8"}
                elif fault is not None and fault.kind == "status":
                    status = fault.status
                    body = json.dumps({"message": "Too Many Requests" if status == 429
                                       else "Internal Server Error"}).encode()
                    headers = {"Content-Type": JSON_TYPE}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if fault is not None and fault.kind == "truncated":
                    self.wfile.write(body[: max(1, len(body) // 2)])  # then close: cut off
                else:
                    self.wfile.write(body)
                self.wfile.flush()

            do_GET = do_POST = _serve

        return Handler


def closed_port_url() -> str:
    """http://127.0.0.1:PORT where PORT was just free and nothing listens: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def point_env_at_nothing(monkeypatch) -> None:
    """Every source URL at a closed local port: a test that forgets the fake fails fast
    (connection refused) instead of reaching arXiv or Semantic Scholar."""
    dead = closed_port_url()
    monkeypatch.setenv("WORKBENCH_ARXIV_URL", f"{dead}/api/query")
    monkeypatch.setenv("WORKBENCH_ARXIV_PDF_URL", f"{dead}/pdf")
    monkeypatch.setenv("WORKBENCH_S2_URL", dead)
    monkeypatch.setenv("WORKBENCH_ARXIV_DELAY", "0")
    monkeypatch.setenv("WORKBENCH_S2_DELAY", "0")
    monkeypatch.delenv("SEMANTIC_SCHOLAR_API_KEY", raising=False)
    monkeypatch.delenv("WORKBENCH_OFFLINE", raising=False)


# --- responses in the recorded formats -----------------------------------------------------------

_FEED = """<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/api/constructed-for-tests</id>
  <title>arXiv Query: search_query=&amp;id_list={ids}&amp;start=0&amp;max_results=100</title>
  <updated>2026-04-12T22:10:19Z</updated>
  <link href="https://arxiv.org/api/query?search_query=&amp;start=0&amp;max_results=100&amp;id_list={ids}" type="application/atom+xml"/>
  <opensearch:itemsPerPage>100</opensearch:itemsPerPage>
  <opensearch:totalResults>{total}</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
{entries}</feed>
"""

_ENTRY = """  <entry>
    <id>http://arxiv.org/abs/{id}</id>
    <title>{title}</title>
    <updated>{updated}</updated>
    <link href="https://arxiv.org/abs/{id}" rel="alternate" type="text/html"/>
    <link href="{pdf_base}/{id}" rel="related" type="application/pdf" title="pdf"/>
    <summary>{summary}</summary>
{categories}    <published>{published}</published>
{doi}    <arxiv:primary_category term="{primary}"/>
{authors}  </entry>
"""


def arxiv_atom(entries: list[dict], pdf_base: str = "https://arxiv.org/pdf") -> str:
    """An arXiv API feed with the structure of the recorded ones (tests/data/sources/arxiv),
    for papers no recording covers. Each entry: id (with version), title, summary, authors,
    categories, published, and optionally updated and doi."""
    from xml.sax.saxutils import escape

    parts = []
    for e in entries:
        parts.append(_ENTRY.format(
            id=e["id"], title=escape(e["title"]), summary=escape(e["summary"]),
            updated=e.get("updated", e["published"]), published=e["published"],
            pdf_base=pdf_base, primary=e["categories"][0],
            categories="".join(
                f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>\n'
                for c in e["categories"]),
            doi=f"    <arxiv:doi>{escape(e['doi'])}</arxiv:doi>\n" if e.get("doi") else "",
            authors="".join(f"    <author>\n      <name>{escape(a)}</name>\n    </author>\n"
                            for a in e["authors"]),
        ))
    ids = ",".join(e["id"] for e in entries)
    return _FEED.format(ids=escape(ids), total=len(entries), entries="".join(parts))


def s2_paper(paper_id: str, title: str, year: int, authors: list[str], *, arxiv: str | None = None,
             doi: str | None = None, venue: str = "", abstract: str | None = None) -> dict:
    """A Semantic Scholar Graph API paper object with the recorded fields."""
    ext: dict = {}
    if arxiv:
        ext["ArXiv"] = arxiv
    if doi:
        ext["DOI"] = doi
    return {"paperId": paper_id, "externalIds": ext, "title": title, "year": year,
            "authors": [{"authorId": str(1000 + i), "name": a} for i, a in enumerate(authors)],
            "venue": venue, "abstract": abstract,
            "url": f"https://www.semanticscholar.org/paper/{paper_id}"}


def s2_reference(paper: dict, intents=("background",), contexts=(), influential=False) -> dict:
    """One item of /paper/{id}/references, shaped like the recorded Reference.json."""
    return {"contexts": list(contexts), "intents": list(intents), "isInfluential": influential,
            "contextsWithIntent": [{"context": c, "intents": list(intents)} for c in contexts],
            "citedPaper": paper}
