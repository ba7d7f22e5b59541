"""The Semantic Scholar client against recorded S2 responses served on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_FIXTURES, requires_shared
from tests.fake_services import DATA, Fault, s2_paper
from workbench.sources import BadRequest, BadResponse, NotFound, ServiceUnavailable, Settings
from workbench.sources.cache import ResponseCache
from workbench.sources.semantic_scholar import (
    CitationLink,
    S2Paper,
    SemanticScholarClient,
    s2_paper_id,
)

S2 = DATA / "semanticscholar"


def make_client(tmp_path) -> SemanticScholarClient:
    settings = Settings.from_env()
    return SemanticScholarClient(ResponseCache(tmp_path / "cache.sqlite3", settings), settings)


@pytest.fixture
def client(fake_services, tmp_path) -> SemanticScholarClient:
    return make_client(tmp_path)


@pytest.mark.parametrize("ref, expected", [
    ("1706.03762", "ARXIV:1706.03762"),
    ("arXiv:1706.03762v5", "ARXIV:1706.03762"),
    ("https://arxiv.org/abs/1512.03385v1", "ARXIV:1512.03385"),
    ("10.1093/mind/lix.236.433", "10.1093/mind/lix.236.433"),
    ("https://doi.org/10.1109/CVPR.2016.90", "10.1109/CVPR.2016.90"),
    ("204e3073870fae3d05bcbc2f6a8e263d9b72e776", "204e3073870fae3d05bcbc2f6a8e263d9b72e776"),
    ("CorpusId:13756489", "CorpusId:13756489"),
])
def test_s2_paper_id_turns_each_kind_of_reference_into_the_apis_form(ref, expected):
    assert s2_paper_id(ref) == expected


def test_paper_by_doi_returns_the_recorded_paper(client):
    paper = client.paper("10.1093/mind/lix.236.433", fields=("title",))
    assert paper == S2Paper("2d5673caa9e6af3a7b82a43f19ee920992db07ad",
                            "Computing Machinery and Intelligence")


def test_unknown_paper_404_is_not_found_naming_the_id(client):
    with pytest.raises(NotFound, match="no paper with id 0;"):
        client.paper("0", fields=("t", "i", "t", "l", "e"))


def test_unsupported_field_400_is_bad_request_quoting_the_server(client):
    with pytest.raises(BadRequest, match=r"Unrecognized or unsupported fields: \[unknown\]"):
        client.paper("10.1093/mind/lix.236.433", fields=("unknown",))


def test_fields_are_always_sent_explicitly(client, fake_services):
    client.paper("10.1093/mind/lix.236.433", fields=("title",))
    [request] = fake_services.seen("/graph/v1/paper/")
    assert request.params["fields"] == "title"
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:1402.0030",
                           s2_paper("331f0fb3b6176c6e463e0401025b04f6ace9ccd3", "NVIL", 2014,
                                    ["Andriy Mnih"], arxiv="1402.0030"))
    client.paper("1402.0030")  # default fields: ours, not the package's 1,000 citations
    fields = fake_services.seen("/graph/v1/paper/ARXIV")[0].params["fields"].split(",")
    assert "externalIds" in fields and "citations" not in fields and "embedding" not in fields


def test_references_walk_every_recorded_page(client, fake_services):
    links = client.references("10.2139/ssrn.2250500", fields=("title",), page_size=50)
    assert len(links) == 67
    assert all(isinstance(link, CitationLink) and link.paper.title for link in links)
    offsets = [r.params["offset"] for r in fake_services.seen("/graph/v1/paper/10.2139")]
    assert offsets == ["0", "50"]


def test_references_and_citations_carry_intents_contexts_and_influence(client, fake_services):
    reference = json.loads((S2 / "Reference.json").read_text())
    citation = json.loads((S2 / "Citation.json").read_text())
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:1611.01211/references",
                           {"offset": 0, "data": [reference]})
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:1611.01211/citations",
                           {"offset": 0, "data": [citation]})
    [ref] = client.references("1611.01211")
    assert ref.intents == ("background",)
    assert ref.contexts[0].startswith("Directed generative models have gained")
    assert ref.is_influential is False
    assert ref.paper.arxiv == "1402.0030"
    assert ref.paper.title == "Neural Variational Inference and Learning in Belief Networks"
    [cit] = client.citations("1611.01211")
    assert cit.is_influential is True
    assert set(cit.intents) == {"result", "background", "methodology"}
    assert cit.paper.doi == "10.1109/LRA.2022.3229266"
    assert len(cit.contexts) == 4


def test_recommendations_for_one_seed_use_the_forpaper_endpoint(client, fake_services):
    papers = client.recommendations("10.2139/ssrn.2250500", fields=("title",))
    assert len(papers) == 100 and all(p.title for p in papers)
    [request] = fake_services.seen("/recommendations/")
    assert request.method == "GET" and request.params["from"] == "recent"


def test_recommendations_for_several_seeds_post_positive_and_negative_lists(client,
                                                                            fake_services):
    papers = client.recommendations(["10.1145/3544585.3544600"],
                                    negative=["10.1145/301250.301271"], fields=("title",))
    assert len(papers) == 100
    [request] = fake_services.seen("/recommendations/")
    assert request.method == "POST"
    assert json.loads(request.body) == {"positivePaperIds": ["10.1145/3544585.3544600"],
                                        "negativePaperIds": ["10.1145/301250.301271"]}


def test_title_match_returns_the_best_matching_paper(client):
    paper = client.match_title("mining association rules between", fields=("title",))
    assert paper.title == "Mining association rules between sets of items in large databases"


def test_title_match_of_a_recorded_dl_paper_gives_its_arxiv_id(client, fake_services):
    fake_services.load_cassette(DATA / "paperqa_s2" / "test_arxiv_doi_is_used_when_available.yaml",
                                match=("query",))
    paper = client.match_title("Attention is All you Need")
    assert paper.arxiv == "1706.03762" and paper.year == 2017
    assert paper.authors[0] == "Ashish Vaswani"


def test_title_match_miss_is_not_found_naming_the_title(client, fake_services):
    fake_services.load_cassette(DATA / "paperqa_s2" / "test_bad_dois.yaml", match=("query",))
    with pytest.raises(NotFound, match="no paper titled 'abs12032jsdafn'"):
        client.match_title("abs12032jsdafn")


def test_title_with_ampersand_is_escaped_not_split(client, fake_services):
    fake_services.add_json("GET", "/graph/v1/paper/search/match",
                           {"data": [s2_paper("a" * 40, "Pixels & Words", 2020, ["A. Author"])]},
                           params={"query": "Pixels & Words"})
    assert client.match_title("Pixels & Words").title == "Pixels & Words"


def test_api_key_is_sent_on_every_endpoint_including_references_and_citations(
        fake_services, tmp_path, monkeypatch):
    monkeypatch.setenv("SEMANTIC_SCHOLAR_API_KEY", "test-key-123")
    client = make_client(tmp_path)
    fake_services.add_json("GET", "/graph/v1/paper/10.2139/ssrn.2250500/citations",
                           {"offset": 0, "data": []})
    client.paper("10.1093/mind/lix.236.433", fields=("title",))
    client.references("10.2139/ssrn.2250500", fields=("title",), page_size=50)
    client.citations("10.2139/ssrn.2250500", fields=("title",))
    client.recommendations("10.2139/ssrn.2250500", fields=("title",))
    client.recommendations(["10.1145/3544585.3544600"], negative=["10.1145/301250.301271"],
                           fields=("title",))
    requests = fake_services.requests
    assert len(requests) == 6
    assert {r.path.split("/")[-1] for r in requests} >= {"references", "citations"}
    assert all(r.headers.get("x-api-key") == "test-key-123" for r in requests)


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_a_typed_error_not_an_all_none_paper(client, fake_services, status):
    fake_services.fail("/graph/v1/paper/", Fault(status))
    with pytest.raises(ServiceUnavailable, match=f"HTTP {status}"):
        client.paper("10.1093/mind/lix.236.433", fields=("title",))


def test_an_empty_paper_object_is_detected(client, fake_services):
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:2501.00001", {})
    with pytest.raises(BadResponse, match="empty paper for ARXIV:2501.00001"):
        client.paper("2501.00001")


def test_paper_with_null_values_parses(client, fake_services):
    data = json.loads((S2 / "PaperWithNullValues.json").read_text())
    fake_services.add_json("GET", f"/graph/v1/paper/{data['paperId']}", data)
    paper = client.paper(data["paperId"])
    assert paper.paper_id == data["paperId"] and paper.authors == () and paper.title is None


@requires_shared
def test_citations_stop_after_max_items_across_recorded_pages(tmp_path, fake_services):
    fake_services.load_cassette(SHARED_FIXTURES / "semanticscholar" /
                                "test_get_paper_citations.yaml")
    client = make_client(tmp_path)
    links = client.citations("CorpusID:14514057", fields=("title",), max_items=250)
    assert len(links) == 250
    offsets = [r.params["offset"] for r in fake_services.seen("/graph/v1/paper/CorpusID")]
    assert offsets == ["0", "100", "200"]
