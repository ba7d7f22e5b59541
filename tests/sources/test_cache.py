"""The response cache and the fetch policy both clients share: storage, offline mode, fallback
on failures, back-off on 429, typed errors for every injected fault, and bundles."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.fake_services import Fault, closed_port_url
from workbench.sources import (
    BadResponse,
    OfflineMiss,
    RateLimited,
    ServiceUnavailable,
    Settings,
    SourceConfigError,
    Timeout,
)
from workbench.sources.arxiv import ArxivClient
from workbench.sources.cache import (
    CacheError,
    ResponseCache,
    backoff_delay,
    retry_after_seconds,
)
from workbench.sources.semantic_scholar import SemanticScholarClient

ARXIV_ID = "1605.08386"
ARXIV_TITLE = "Heat-bath random walks with Markov bases"
S2_DOI = "10.1093/mind/lix.236.433"
S2_TITLE = "Computing Machinery and Intelligence"
PREFIX = {"arxiv": "/api/query", "s2": "/graph/v1/paper/"}


def lookup(service: str, cache: ResponseCache) -> str:
    """One recorded lookup through the real client of `service`; returns the title."""
    if service == "arxiv":
        return ArxivClient(cache).entry(ARXIV_ID)["title"]
    return SemanticScholarClient(cache).paper(S2_DOI, fields=("title",)).title


def title_of(service: str) -> str:
    return ARXIV_TITLE if service == "arxiv" else S2_TITLE


@pytest.fixture
def make_cache(fake_services, tmp_path):
    """ResponseCache factory over one file; back-off waits are recorded, not slept."""
    waits: list[float] = []

    def make(**overrides) -> ResponseCache:
        cache = ResponseCache(tmp_path / "cache.sqlite3", Settings.from_env(**overrides))
        cache.sleep = waits.append
        return cache

    make.waits = waits
    return make


services = pytest.mark.parametrize("service", ["arxiv", "s2"])


# --- storage and offline mode ----------------------------------------------------------------


@services
def test_success_is_stored_with_its_fetch_time_and_reused(make_cache, fake_services, service):
    cache = make_cache()
    assert lookup(service, cache) == title_of(service)
    assert lookup(service, make_cache()) == title_of(service)
    assert len(fake_services.seen(PREFIX[service])) == 1
    info = cache.info()
    assert info.entries == {service: 1}
    assert info.oldest is not None and info.oldest == info.newest
    assert cache.notices == []


@services
def test_offline_mode_answers_from_a_warm_cache_and_says_so(make_cache, fake_services, service):
    lookup(service, make_cache())
    offline = make_cache(offline=True)
    assert lookup(service, offline) == title_of(service)
    assert len(fake_services.seen(PREFIX[service])) == 1
    [note] = offline.notices
    assert note.startswith("offline:") and "served from the cache (fetched 20" in note


@services
def test_offline_mode_with_a_cold_cache_is_offline_miss(make_cache, fake_services, service):
    with pytest.raises(OfflineMiss, match="not in the cache.*workbench cache import FILE"):
        lookup(service, make_cache(offline=True))
    assert fake_services.requests == []


def test_workbench_offline_env_turns_offline_mode_on(monkeypatch):
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    assert Settings.from_env().offline is True
    monkeypatch.setenv("WORKBENCH_OFFLINE", "0")
    assert Settings.from_env().offline is False


@services
@pytest.mark.parametrize("fault", [Fault(500), Fault(503), Fault.html(), Fault.truncated()])
def test_a_failing_service_falls_back_to_the_cache_with_a_notice(make_cache, fake_services,
                                                                  service, fault):
    lookup(service, make_cache())
    stale = make_cache(max_age_days=0)  # every entry is due for a refresh
    fake_services.fail(PREFIX[service], fault)
    assert lookup(service, stale) == title_of(service)
    [note] = stale.notices
    assert "failed, so" in note and "served from the cache" in note
    assert len(fake_services.seen(PREFIX[service])) == 2


@services
def test_connection_refused_falls_back_to_the_cache(make_cache, service):
    lookup(service, make_cache())
    dead = closed_port_url()
    cache = make_cache(max_age_days=0, arxiv_url=f"{dead}/api/query", s2_url=dead)
    assert lookup(service, cache) == title_of(service)
    assert "cannot reach" in cache.notices[0]


# --- typed errors for every fault, nothing cached ------------------------------------------------


@services
@pytest.mark.parametrize("fault, error, text", [
    (Fault(500), ServiceUnavailable, "HTTP 500"),
    (Fault(503), ServiceUnavailable, "HTTP 503"),
    (Fault.truncated(), BadResponse, "cut off"),
    (Fault.html(), BadResponse, "not (an Atom feed|JSON)"),
    (Fault.slow(3.0), Timeout, "did not answer within 1 s"),
])
def test_each_fault_is_a_one_line_typed_error(make_cache, fake_services, service, fault, error,
                                              text):
    fake_services.fail(PREFIX[service], fault)
    cache = make_cache()
    with pytest.raises(error, match=text) as err:
        lookup(service, cache)
    assert "\n" not in str(err.value)
    assert cache.info().entries == {}  # a failure is never cached


@services
def test_connection_refused_is_service_unavailable(make_cache, service):
    dead = closed_port_url()
    with pytest.raises(ServiceUnavailable, match="cannot reach .*connection refused|Errno 111"):
        lookup(service, make_cache(arxiv_url=f"{dead}/api/query", s2_url=dead))


# --- 429 and back-off ---------------------------------------------------------------------------


@services
def test_429_with_retry_after_waits_as_told_then_succeeds(make_cache, fake_services, service):
    fake_services.fail(PREFIX[service], Fault(429, retry_after="2"))
    assert lookup(service, make_cache()) == title_of(service)
    assert make_cache.waits == [2.0]
    assert len(fake_services.seen(PREFIX[service])) == 2


@services
def test_429_without_retry_after_backs_off_exponentially_then_succeeds(make_cache, fake_services,
                                                                       service):
    fake_services.fail(PREFIX[service], Fault(429), Fault(429))
    assert lookup(service, make_cache(retry_budget_s=10)) == title_of(service)
    assert make_cache.waits == [1.0, 2.0]


@services
def test_503_with_retry_after_is_retried_like_429(make_cache, fake_services, service):
    fake_services.fail(PREFIX[service], Fault(503, retry_after="1"))
    assert lookup(service, make_cache()) == title_of(service)
    assert make_cache.waits == [1.0]


@services
def test_429_forever_gives_up_within_the_budget_with_a_clear_message(make_cache, fake_services,
                                                                     service):
    fake_services.fail_forever(PREFIX[service], Fault(429, retry_after="2"))
    with pytest.raises(RateLimited, match="rate-limiting us .*gave up after 3 tries") as err:
        lookup(service, make_cache(retry_budget_s=5))
    assert make_cache.waits == [2.0, 2.0]  # a third wait would pass the 5 s budget
    assert len(fake_services.seen(PREFIX[service])) == 3
    assert "\n" not in str(err.value)


def test_429_forever_really_returns_in_bounded_time(fake_services, tmp_path):
    """With real sleeps: the budget (0.5 s) is below the first back-off (1 s), so one try."""
    fake_services.fail_forever("/api/query", Fault(429))
    cache = ResponseCache(tmp_path / "c.sqlite3", Settings.from_env(retry_budget_s=0.5))
    with pytest.raises(RateLimited):
        ArxivClient(cache).entry(ARXIV_ID)
    assert len(fake_services.seen("/api/query")) == 1


def test_retry_after_longer_than_the_budget_gives_up_at_once(make_cache, fake_services):
    fake_services.fail_forever("/graph/", Fault(429, retry_after="3600"))
    with pytest.raises(RateLimited, match="asked to wait 3600 s"):
        lookup("s2", make_cache())
    assert make_cache.waits == []


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("120") == 120.0
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_backoff_doubles_from_one_second_up_to_thirty():
    assert [backoff_delay(k, None) for k in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(3, 0.5) == 0.5


def test_bad_settings_in_the_environment_are_one_line_errors(monkeypatch):
    monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "soon")
    with pytest.raises(SourceConfigError, match="WORKBENCH_HTTP_TIMEOUT='soon' is not a number"):
        Settings.from_env()
    monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "5")
    monkeypatch.setenv("WORKBENCH_S2_URL", "ftp://example.org")
    with pytest.raises(SourceConfigError, match="must be an http"):
        Settings.from_env()


# --- bundles ------------------------------------------------------------------------------------


def test_a_bundle_makes_another_cache_answer_offline(make_cache, fake_services, tmp_path):
    source = make_cache()
    lookup("arxiv", source)
    lookup("s2", source)
    bundle = tmp_path / "class.wbcache.gz"
    assert source.export_bundle(bundle) == 2
    other = ResponseCache(tmp_path / "other" / "cache.sqlite3",
                          replace(source.settings, offline=True))
    summary = other.import_bundle(bundle)
    assert (summary.added, summary.updated, summary.kept) == (2, 0, 0)
    assert lookup("arxiv", other) == ARXIV_TITLE
    assert lookup("s2", other) == S2_TITLE
    assert len(fake_services.requests) == 2  # only the first cache's fetches


def test_import_keeps_the_newer_copy_of_each_entry(tmp_path):
    a = ResponseCache(tmp_path / "a.sqlite3")
    b = ResponseCache(tmp_path / "b.sqlite3")
    a.put("arxiv GET ?id_list=1", "arxiv", b"old", "application/atom+xml", fetched_at=100.0)
    a.put("s2 GET /graph/v1/paper/x?", "s2", b"{}", "application/json", fetched_at=100.0)
    b.put("arxiv GET ?id_list=1", "arxiv", b"new", "application/atom+xml", fetched_at=200.0)
    a.export_bundle(tmp_path / "a.gz")
    summary = b.import_bundle(tmp_path / "a.gz")
    assert (summary.added, summary.updated, summary.kept) == (1, 0, 1)
    assert b.get("arxiv GET ?id_list=1").body == b"new"
    b.export_bundle(tmp_path / "b.gz")
    assert a.import_bundle(tmp_path / "b.gz").updated == 1
    assert a.get("arxiv GET ?id_list=1").body == b"new"


def test_binary_bodies_survive_a_bundle(tmp_path):
    a = ResponseCache(tmp_path / "a.sqlite3")
    a.put("s2 GET /x?", "s2", b"\xff\xfe\x00gz", "application/octet-stream", fetched_at=1.0)
    a.export_bundle(tmp_path / "a.gz")
    b = ResponseCache(tmp_path / "b.sqlite3")
    b.import_bundle(tmp_path / "a.gz")
    assert b.get("s2 GET /x?").body == b"\xff\xfe\x00gz"


def _gz(path, obj) -> None:
    path.write_bytes(gzip.compress(json.dumps(obj).encode()))


@pytest.mark.parametrize("content, why", [
    (b"plain text", "not gzip data"),
    (gzip.compress(b"{not json"), "not JSON"),
    (gzip.compress(b'{"format": "other"}'), "missing the format marker"),
    (gzip.compress(json.dumps({"format": "workbench-source-cache", "version": 99,
                               "entries": []}).encode()), "version 99"),
    (gzip.compress(json.dumps({"format": "workbench-source-cache", "version": 1, "entries": [
        {"key": "evil GET /", "service": "evil", "body": "", "content_type": "",
         "fetched_at": 1, "encoding": "utf-8"}]}).encode()), "entry #1 is malformed"),
])
def test_import_refuses_anything_but_a_bundle_with_one_line(tmp_path, content, why):
    bad = tmp_path / "bad.gz"
    bad.write_bytes(content)
    cache = ResponseCache(tmp_path / "c.sqlite3")
    with pytest.raises(CacheError, match=why) as err:
        cache.import_bundle(bad)
    assert "\n" not in str(err.value)
    assert cache.info().entries == {}


def test_import_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(CacheError, match="no bundle at .*nope.gz"):
        ResponseCache(tmp_path / "c.sqlite3").import_bundle(tmp_path / "nope.gz")


def test_a_damaged_cache_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CacheError, match="delete it"):
        ResponseCache(path).get("arxiv GET ?x")
