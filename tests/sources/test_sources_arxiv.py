"""The arXiv client against recorded arXiv API responses served on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_FIXTURES, requires_shared
from workbench.sources import InvalidId, Settings, UnknownId
from workbench.sources.arxiv import ArxivClient, base_id, parse_arxiv_ref
from workbench.sources.cache import ResponseCache


@pytest.fixture
def client(fake_services, tmp_path) -> ArxivClient:
    settings = Settings.from_env()
    return ArxivClient(ResponseCache(tmp_path / "cache.sqlite3", settings), settings)


@pytest.mark.parametrize("text, expected", [
    ("1706.03762", "1706.03762"),
    ("1706.03762v5", "1706.03762v5"),
    ("arXiv:1512.03385", "1512.03385"),
    ("  2104.12255v1 ", "2104.12255v1"),
    ("cs/0112017", "cs/0112017"),
    ("math.GT/0309136", "math.GT/0309136"),
    ("quant-ph/0201082v1", "quant-ph/0201082v1"),
    ("https://arxiv.org/abs/1706.03762", "1706.03762"),
    ("http://arxiv.org/abs/1706.03762v7", "1706.03762v7"),
    ("https://arxiv.org/pdf/1706.03762v5.pdf", "1706.03762v5"),
    ("https://arxiv.org/pdf/1706.03762", "1706.03762"),
    ("arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001v2"),
    ("https://export.arxiv.org/abs/astro-ph/0601001", "astro-ph/0601001"),
    ("https://arxiv.org/abs/1512.03385?context=cs", "1512.03385"),
])
def test_parse_arxiv_ref_reads_ids_and_urls_of_both_styles(text, expected):
    assert parse_arxiv_ref(text) == expected


@pytest.mark.parametrize("text", [
    "Attention is all you need", "10.1109/CVPR.2016.90", "abc", "1706.0376", "17060.3762",
    "https://example.org/abs/1706.03762", "https://arxiv.org/list/cs.LG/recent", "",
])
def test_parse_arxiv_ref_rejects_everything_else(text):
    assert parse_arxiv_ref(text) is None


def test_base_id_drops_the_version():
    assert base_id("1706.03762v5") == "1706.03762"
    assert base_id("quant-ph/0201082v1") == "quant-ph/0201082"


def test_entry_by_id_maps_the_recorded_feed_to_a_catalog_entry(client, fake_services):
    entry = client.entry("1605.08386")
    assert entry["title"] == "Heat-bath random walks with Markov bases"
    assert entry["authors"] == ["Caprice Stanley", "Tobias Windisch"]
    assert entry["year"] == 2016
    assert entry["categories"] == ["math.CO", "math.ST"]
    assert entry["arxiv"] == "1605.08386" and entry["version"] == "v1"
    assert entry["pdf_url"] == "https://arxiv.org/pdf/1605.08386v1"
    assert entry["doi"] is None
    assert entry["abstract"].startswith("Graphs on lattice points are studied")
    assert "\n" not in entry["abstract"]
    [request] = fake_services.seen("/api/query")
    assert request.params["id_list"] == "1605.08386"


def test_entry_by_abs_url_of_an_old_style_versioned_id(client):
    entry = client.entry("https://arxiv.org/abs/quant-ph/0201082v1")
    assert entry["arxiv"] == "quant-ph/0201082"
    assert entry["version"] == "v1"
    assert entry["title"].startswith("Quantum Computers and Quantum Computer Languages")


def test_entry_by_old_style_id_keeps_the_journal_reference(client):
    entry = client.entry("astro-ph/0601001")
    assert entry["title"].startswith("Frequency of Hot Jupiters")
    assert entry["journal_ref"] == "ActaAstron.56:1-50,2006"


def test_entry_by_pdf_url_with_version(client):
    entry = client.entry("https://arxiv.org/pdf/2104.12255v1.pdf")
    assert entry["arxiv"] == "2104.12255"
    assert entry["title"] == "0"  # the recorded paper's title really is "0"


def test_unknown_id_answered_200_without_entries_is_unknown_id(client):
    with pytest.raises(UnknownId, match=r"arXiv has no paper 0000\.0000"):
        client.entry("0000.0000")


def test_invalid_id_answered_400_is_invalid_id_with_arxivs_reason(client):
    with pytest.raises(InvalidId, match="incorrect id format for abc") as err:
        client.entries(["abc"])
    assert "\n" not in str(err.value)


def test_entry_refuses_text_that_is_no_id_without_asking_arxiv(client, fake_services):
    with pytest.raises(InvalidId, match="not an arXiv id or URL"):
        client.entry("Attention is all you need")
    assert fake_services.requests == []


def test_batch_lookup_leaves_out_ids_arxiv_does_not_know(client):
    entries = client.entries(["0808.05394", "1707.08567"])
    assert [e["arxiv"] for e in entries] == ["1707.08567"]


def test_search_walks_every_page_it_needs(client, fake_services):
    results = client.search("testing", max_results=30, page_size=10)
    assert len(results) == 30
    assert results[0]["title"].startswith("Testing Deep Learning Models")
    starts = [r.params["start"] for r in fake_services.seen("/api/query")]
    assert starts == ["0", "10", "20"]
    assert len({r["arxiv"] for r in results}) == 30


def test_a_second_lookup_is_served_from_the_cache(client, fake_services):
    first = client.entry("1605.08386")
    again = client.entry("https://arxiv.org/abs/1605.08386")  # the same request
    assert first == again
    assert len(fake_services.seen("/api/query")) == 1


def test_base_url_comes_from_the_environment(fake_services):
    assert Settings.from_env().arxiv_url == fake_services.arxiv_url


@requires_shared
def test_every_recorded_id_fixture_parses(tmp_path, fake_services):
    """All recorded id lookups in ../shared (not only the copies in tests/data)."""
    fake_services.load_fixtures(SHARED_FIXTURES / "arxiv")
    settings = Settings.from_env()
    client = ArxivClient(ResponseCache(tmp_path / "c.sqlite3", settings), settings)
    for ref in ["1605.08386", "1707.08567", "2104.12255v1", "quant-ph/0201082v1",
                "astro-ph/0601001"]:
        assert client.entry(ref)["title"]
    assert len(client.search("testing", max_results=100)) == 100
