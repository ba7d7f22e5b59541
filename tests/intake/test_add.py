"""`workbench add` end to end against the local fake arXiv + Semantic Scholar: an id, a URL, a
DOI and a title; every fault gives one line and leaves papers.yaml byte-identical; a cache
bundle from one workspace makes another work offline; the Add paper page."""

from __future__ import annotations

import difflib
import json
import re

import pytest

from tests.fake_services import DATA, Fault, arxiv_atom, closed_port_url, s2_paper, s2_reference
from tests.workspaces import CATALOGS, make_workspace
from workbench.catalog import validate as catalog
from workbench.cli.commands import main
from workbench.intake import lookup as add_mod
from workbench.sources.semantic_scholar import CitationLink, S2Paper
from workbench.workspace import Workspace

TRANSFORMER_S2_ID = "204e3073870fae3d05bcbc2f6a8e263d9b72e776"
TRANSFORMER_AUTHORS = ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar", "Jakob Uszkoreit",
                       "Llion Jones", "Aidan N. Gomez", "Lukasz Kaiser", "Illia Polosukhin"]
TRANSFORMER_ABSTRACT = (
    "The dominant sequence transduction models are based on complex recurrent or\n"
    "convolutional neural networks in an encoder-decoder configuration. The best performing\n"
    "models also connect the encoder and decoder through an attention mechanism. We propose a "
    "new simple network architecture, the Transformer, based solely on attention mechanisms, "
    "dispensing with recurrence and convolutions entirely.")
QUERIES = ["1706.03762", "https://arxiv.org/abs/1706.03762v5", "10.48550/arXiv.1706.03762",
           "Attention is All you Need"]
TOPIC = ["--topic", "sequences"]


def transformer_feed(version: str, pdf_base: str) -> str:
    return arxiv_atom([{
        "id": f"1706.03762{version}", "title": "Attention Is All You Need",
        "summary": TRANSFORMER_ABSTRACT, "authors": TRANSFORMER_AUTHORS,
        "categories": ["cs.CL", "cs.LG"], "published": "2017-06-12T17:57:34Z",
        "updated": "2023-08-02T00:41:18Z"}], pdf_base=pdf_base)


def recorded_transformer_s2() -> dict:
    """The real S2 record of the Transformer paper (a recorded /paper/search/match answer)."""
    import yaml

    doc = yaml.safe_load((DATA / "paperqa_s2" /
                          "test_arxiv_doi_is_used_when_available.yaml").read_text())
    for it in doc["interactions"]:
        if "semanticscholar" in it["request"]["uri"]:
            paper = json.loads(it["response"]["body"]["string"])["data"][0]
            paper.pop("matchScore")
            return paper
    raise AssertionError("the recorded match is missing")


def serve_transformer(fake) -> None:
    """arXiv feed, S2 paper (by arXiv id, by DOI, by title), references for the Transformer."""
    for version, query in [("v7", "1706.03762"), ("v5", "1706.03762v5")]:
        fake.add_atom({"id_list": query}, transformer_feed(version, fake.pdf_url))
    paper = recorded_transformer_s2()
    fake.add_json("GET", "/graph/v1/paper/ARXIV:1706.03762", paper)
    with_doi = {**paper, "externalIds": {**paper["externalIds"],
                                         "DOI": "10.48550/arXiv.1706.03762"}}
    fake.add_json("GET", "/graph/v1/paper/10.48550/arXiv.1706.03762", with_doi)
    fake.load_cassette(DATA / "paperqa_s2" / "test_arxiv_doi_is_used_when_available.yaml",
                       match=("query",))
    refs = [
        s2_paper("2c03df8b48bf3fa39054345bafabfeff15bfd11d", "Deep Residual Learning for Image "
                 "Recognition", 2015, ["Kaiming He"], doi="10.1109/CVPR.2016.90"),
        s2_paper("97fb4e3d45bb098e27e0071448b6152217bd35a5", "Layer Normalization", 2016,
                 ["Jimmy Ba"]),
        s2_paper("44d2abe2175df8153f465f6c39b68b76a0d40ab9", "Long Short-Term Memory", 1997,
                 ["S. Hochreiter"]),
        s2_paper("fa72afa9b2cbc8f0d7b05d52548906610ffbb9c5", "Neural Machine Translation by "
                 "Jointly Learning to Align and Translate", 2014, ["Dzmitry Bahdanau"],
                 arxiv="1409.0473"),
        {"paperId": None, "externalIds": None, "title": "Unresolved reference", "year": None,
         "authors": []},
        s2_paper("a6cb366736791bcccc5c8639de5a8f9636bf87e8", "Adam: A Method for Stochastic "
                 "Optimization", 2014, ["Diederik P. Kingma"], doi="10.48550/arXiv.1412.6980"),
    ]
    fake.add_json("GET", f"/graph/v1/paper/{TRANSFORMER_S2_ID}/references",
                  {"offset": 0, "data": [s2_reference(p, contexts=["[12]"]) for p in refs]})


@pytest.fixture
def ws(make_ws) -> Workspace:
    return make_ws("add")


@pytest.fixture
def fake(fake_services):
    serve_transformer(fake_services)
    return fake_services


def run(ws: Workspace, *argv: str) -> int:
    return main(["--workspace", str(ws.root), *argv])


def only_insertions(old: str, new: str) -> list[str]:
    """The lines `new` adds to `old`; fails if any line of `old` changed or moved."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    added = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        assert op in ("equal", "insert"), f"line {i1 + 1} of papers.yaml was changed ({op})"
        if op == "insert":
            added += b[j1:j2]
    return added


# --- end to end: the four ways in -----------------------------------------------------------------


@pytest.mark.parametrize("query", QUERIES)
def test_add_writes_the_entry_with_cites_and_keeps_every_other_byte(ws, fake, capsys, query):
    before = ws.catalog_path.read_text()
    assert run(ws, "add", query, "--yes", *TOPIC) == 0
    out = capsys.readouterr().out
    assert "Attention Is All You Need" in out and "added 'vaswani-2017'" in out
    added = only_insertions(before, ws.catalog_path.read_text())
    assert added[0] == "  - id: vaswani-2017\n"
    paper = catalog.load(ws.catalog_path).by_id["vaswani-2017"]
    assert paper.title == "Attention Is All You Need"
    assert list(paper.authors) == TRANSFORMER_AUTHORS
    assert (paper.year, paper.topic, paper.arxiv) == (2017, "sequences", "1706.03762")
    assert paper.venue == "Neural Information Processing Systems"
    assert paper.cites == ("resnet", "layer-norm", "bahdanau", "adam")  # S2 reference order
    assert paper.abstract.startswith("The dominant sequence transduction models")
    assert paper.doi == ("10.48550/arXiv.1706.03762" if query.startswith("10.") else None)
    assert fake.unmatched == []


def test_add_by_doi_of_a_paper_without_arxiv_uses_semantic_scholar(ws, fake_services, capsys):
    lenet = s2_paper("162d958ff885f1462aeda91cd72582323fd6a1f4", "Gradient-based learning "
                     "applied to document recognition", 1998,
                     ["Yann LeCun", "L. Bottou", "Yoshua Bengio", "P. Haffner"],
                     doi="10.1109/5.726791", venue="Proceedings of the IEEE")
    fake_services.add_json("GET", "/graph/v1/paper/10.1109/5.726791", lenet)
    fake_services.add_json("GET", f"/graph/v1/paper/{lenet['paperId']}/references",
                           {"offset": 0, "data": []})
    assert run(ws, "add", "https://doi.org/10.1109/5.726791", "--yes", "--topic", "cnns") == 0
    paper = catalog.load(ws.catalog_path).by_id["lecun-1998"]
    assert paper.doi == "10.1109/5.726791" and paper.arxiv is None and paper.cites == ()
    assert paper.venue == "Proceedings of the IEEE"
    assert fake_services.seen("/api/query") == []  # no arXiv id, so arXiv is not asked
    # a new paper goes after the last paper of its topic, before the next topic's heading
    text = ws.catalog_path.read_text()
    assert text.index("id: lecun-1998") < text.index("# --- Sequences ---")


def test_add_asks_before_writing_and_no_means_untouched(ws, fake, monkeypatch, capsys):
    before = ws.catalog_path.read_bytes()
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert run(ws, "add", "1706.03762", *TOPIC) == 1
    assert ws.catalog_path.read_bytes() == before
    assert "not added" in capsys.readouterr().err
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert run(ws, "add", "1706.03762", *TOPIC) == 0
    assert "vaswani-2017" in catalog.load(ws.catalog_path)


def test_add_without_a_terminal_and_without_yes_adds_nothing(ws, fake, monkeypatch):
    def no_stdin(prompt):
        raise EOFError

    before = ws.catalog_path.read_bytes()
    monkeypatch.setattr("builtins.input", no_stdin)
    assert run(ws, "add", "1706.03762", *TOPIC) == 1
    assert ws.catalog_path.read_bytes() == before


def test_add_with_pdf_downloads_it_into_pdfs(ws, fake):
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Attention Is All You Need")
    fake.add("GET", "/pdf/1706.03762", body=doc.tobytes(), content_type="application/pdf")
    assert run(ws, "add", "1706.03762", "--yes", "--pdf", *TOPIC) == 0
    pdf = ws.pdfs_dir / "1706.03762.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    from workbench.pdf.document import pdf_for_paper

    assert pdf_for_paper(ws, catalog.load(ws.catalog_path).by_id["vaswani-2017"]) == pdf


def test_add_with_a_failing_pdf_download_leaves_everything_untouched(ws, fake, capsys):
    fake.add("GET", "/pdf/1706.03762", body="<html>captcha</html>", content_type="text/html")
    before = ws.catalog_path.read_bytes()
    assert run(ws, "add", "1706.03762", "--yes", "--pdf", *TOPIC) == 1
    assert ws.catalog_path.read_bytes() == before
    assert not (ws.pdfs_dir / "1706.03762.pdf").exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


# --- every fault: one line, papers.yaml byte-identical --------------------------------------------


def _refused(fake, monkeypatch):
    dead = closed_port_url()
    monkeypatch.setenv("WORKBENCH_ARXIV_URL", f"{dead}/api/query")
    monkeypatch.setenv("WORKBENCH_S2_URL", dead)


FAULTS = {
    "arxiv 429 forever": ("1706.03762", lambda f, m: f.fail_forever("/api/query", Fault(429)),
                          "rate-limiting"),
    "arxiv 429 forever, long Retry-After": (
        "1706.03762", lambda f, m: f.fail_forever("/api/query", Fault(429, retry_after="120")),
        "asked to wait 120 s"),
    "s2 429 forever": ("10.48550/arXiv.1706.03762",
                       lambda f, m: f.fail_forever("/graph/", Fault(429)), "rate-limiting"),
    "arxiv 500": ("1706.03762", lambda f, m: f.fail("/api/query", Fault(500)), "HTTP 500"),
    "arxiv 503": ("1706.03762", lambda f, m: f.fail("/api/query", Fault(503)), "HTTP 503"),
    "s2 500": ("Attention is All you Need", lambda f, m: f.fail("/graph/", Fault(500)),
               "HTTP 500"),
    "s2 503 on references": ("1706.03762", lambda f, m: f.fail(
        f"/graph/v1/paper/{TRANSFORMER_S2_ID}/references", Fault(503)), "--no-cites|HTTP 503"),
    "s2 500 after arxiv": ("1706.03762", lambda f, m: f.fail("/graph/", Fault(500)),
                           "--no-cites"),
    "arxiv truncated": ("1706.03762", lambda f, m: f.fail("/api/query", Fault.truncated()),
                        "cut off"),
    "s2 truncated": ("10.48550/arXiv.1706.03762",
                     lambda f, m: f.fail("/graph/", Fault.truncated()), "cut off"),
    "arxiv html": ("1706.03762", lambda f, m: f.fail("/api/query", Fault.html()),
                   "not an Atom feed"),
    "arxiv slow": ("1706.03762", lambda f, m: f.fail("/api/query", Fault.slow(2.5)),
                   "did not answer within 1 s"),
    "s2 slow": ("10.48550/arXiv.1706.03762", lambda f, m: f.fail("/graph/", Fault.slow(2.5)),
                "did not answer within 1 s"),
    "connection refused": ("1706.03762", _refused, "cannot reach arXiv"),
    "unknown arxiv id": ("0000.0000", lambda f, m: None, "arXiv has no paper 0000.0000"),
    "unknown doi": ("10.9999/nothing", lambda f, m: f.add_json(
        "GET", "/graph/v1/paper/10.9999/nothing", {"error": "Paper with id 10.9999/nothing "
                                                            "not found"}, status=404),
                    "no paper with id 10.9999/nothing"),
    "unknown title": ("abs12032jsdafn", lambda f, m: (
        f.load_cassette(DATA / "paperqa_s2" / "test_bad_dois.yaml", match=("query",)),
        f.add_atom({"search_query": 'ti:"abs12032jsdafn"'}, arxiv_atom([]))),
        "no paper titled 'abs12032jsdafn' on Semantic Scholar or arXiv"),
    "offline, cold cache": ("1706.03762", lambda f, m: m.setenv("WORKBENCH_OFFLINE", "1"),
                            "offline, and arXiv id 1706.03762 is not in the cache"),
    "duplicate arxiv id": ("https://arxiv.org/abs/1512.03385v1", lambda f, m: None,
                           "already in the catalog as 'resnet' \\(same arXiv id 1512.03385\\)"),
    "duplicate doi": ("10.1109/cvpr.2016.90", lambda f, m: None,
                      "already in the catalog as 'resnet' \\(same DOI"),
    "not an arxiv or doi url": ("https://example.org/paper.pdf", lambda f, m: None,
                                "neither an arXiv abs/pdf URL nor a DOI link"),
    "bad setting": ("1706.03762", lambda f, m: m.setenv("WORKBENCH_HTTP_TIMEOUT", "x"),
                    "WORKBENCH_HTTP_TIMEOUT='x' is not a number"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_each_fault_is_one_line_and_leaves_papers_yaml_byte_identical(ws, fake, monkeypatch,
                                                                      capsys, name):
    query, setup, message = FAULTS[name]
    monkeypatch.setenv("WORKBENCH_RETRY_BUDGET", "0.5")  # below the first 1 s back-off
    setup(fake, monkeypatch)
    before = ws.catalog_path.read_bytes()
    assert run(ws, "add", query, "--yes", "--pdf", *TOPIC) == 1
    assert ws.catalog_path.read_bytes() == before
    assert not ws.pdfs_dir.exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert re.search(message, err), err


def test_missing_topic_lists_the_topics_before_any_request(ws, fake, capsys):
    assert run(ws, "add", "1706.03762", "--yes") == 1
    assert "pass --topic, one of: cnns, sequences" in capsys.readouterr().err
    assert fake.requests == []


def test_duplicate_of_the_shipped_catalog_names_its_id_without_a_request(workspace, fake_services,
                                                                         capsys):
    existing = next(p.id for p in catalog.load(workspace.catalog_path).papers
                    if p.arxiv == "1706.03762")
    before = workspace.catalog_path.read_bytes()
    assert main(["add", "https://arxiv.org/pdf/1706.03762v7", "--yes",
                 "--topic", "transformers"]) == 1
    assert f"already in the catalog as '{existing}'" in capsys.readouterr().err
    assert workspace.catalog_path.read_bytes() == before
    assert fake_services.requests == []


def test_duplicate_by_title_is_refused_after_the_lookup(ws, fake, capsys):
    text = ws.catalog_path.read_text() + (
        "  - id: transformer\n    title: Attention is all you need\n"
        "    authors: [Ashish Vaswani]\n    year: 2017\n    topic: sequences\n")
    ws.catalog_path.write_text(text)
    assert run(ws, "add", "1706.03762", "--yes", *TOPIC) == 1
    assert "already in the catalog as 'transformer' (same title)" in capsys.readouterr().err
    assert ws.catalog_path.read_text() == text


def test_a_paper_semantic_scholar_does_not_know_yet_is_added_without_cites(ws, fake_services,
                                                                          capsys):
    fake_services.add_atom({"id_list": "2501.01234"}, arxiv_atom([{
        "id": "2501.01234v1", "title": "A Fresh Preprint", "summary": "Brand new.",
        "authors": ["Ada Lovelace"], "categories": ["cs.LG"],
        "published": "2025-01-02T10:00:00Z"}]))
    fake_services.add_json("GET", "/graph/v1/paper/ARXIV:2501.01234",
                           {"error": "Paper with id ARXIV:2501.01234 not found"}, status=404)
    assert run(ws, "add", "2501.01234", "--yes", *TOPIC) == 0
    assert "note: Semantic Scholar does not know arXiv 2501.01234 yet" in capsys.readouterr().err
    assert catalog.load(ws.catalog_path).by_id["lovelace-2025"].cites == ()


def test_no_cites_adds_without_asking_semantic_scholar(ws, fake):
    fake.fail_forever("/graph/", Fault(500))
    assert run(ws, "add", "1706.03762", "--yes", "--no-cites", *TOPIC) == 0
    assert catalog.load(ws.catalog_path).by_id["vaswani-2017"].cites == ()
    assert fake.seen("/graph/") == []


# --- offline and cache bundles --------------------------------------------------------------------


def test_a_cache_bundle_makes_another_workspace_work_fully_offline(ws, fake, tmp_path, capsys,
                                                                   monkeypatch):
    assert run(ws, "add", "1706.03762", "--yes", *TOPIC) == 0
    bundle = tmp_path / "class-cache.json.gz"
    assert run(ws, "cache", "export", str(bundle)) == 0
    other = make_workspace(tmp_path / "other", "add")
    _refused(fake, monkeypatch)  # no network at all from here on
    assert run(other, "cache", "import", str(bundle)) == 0
    assert "3 added" in capsys.readouterr().out  # arXiv feed, S2 paper, S2 references
    assert run(other, "add", "1706.03762", "--yes", "--offline", *TOPIC) == 0
    captured = capsys.readouterr()
    assert "note: offline: arXiv id 1706.03762 served from the cache" in captured.err
    assert ws.catalog_path.read_text() == other.catalog_path.read_text()
    assert run(other, "cache", "info") == 0
    assert "entries: 3" in capsys.readouterr().out


def test_network_failure_serves_stale_entries_and_says_so(ws, fake, monkeypatch, capsys):
    assert run(ws, "add", "1706.03762", *TOPIC, "--yes") == 0
    ws.catalog_path.write_text(CATALOGS["add"])
    monkeypatch.setenv("WORKBENCH_CACHE_MAX_AGE_DAYS", "0")  # everything is due for a refresh
    _refused(fake, monkeypatch)
    assert run(ws, "add", "1706.03762", *TOPIC, "--yes") == 0
    err = capsys.readouterr().err
    assert "note: arXiv failed, so id 1706.03762 was served from the cache" in err
    assert "vaswani-2017" in catalog.load(ws.catalog_path)


# --- the pieces -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, kind, value", [
    ("1706.03762", "arxiv", "1706.03762"),
    ("arXiv:1706.03762v2", "arxiv", "1706.03762v2"),
    ("https://arxiv.org/pdf/cs/0112017v1", "arxiv", "cs/0112017v1"),
    ("10.1109/CVPR.2016.90", "doi", "10.1109/CVPR.2016.90"),
    ("doi:10.1145/3065386", "doi", "10.1145/3065386"),
    ("https://doi.org/10.1162/neco.1997.9.8.1735", "doi", "10.1162/neco.1997.9.8.1735"),
    ("  Attention   is all you need ", "title", "Attention is all you need"),
])
def test_classify_tells_ids_dois_and_titles_apart(text, kind, value):
    assert add_mod.classify(text) == add_mod.Query(kind, value)


def test_classify_refuses_empty_input():
    with pytest.raises(add_mod.AddError, match="nothing to add"):
        add_mod.classify("   ")


def test_new_id_is_surname_and_year_then_a_title_word_then_a_number(ws):
    cat = catalog.load(ws.catalog_path)
    authors = ["Łukasz Kaiser", "Noam Shazeer"]
    assert add_mod.new_id(cat, authors, 2017, "One Model To Learn Them All") == "kaiser-2017"
    text = CATALOGS["add"] + (
        "  - id: kaiser-2017\n    title: X\n    authors: [A]\n    year: 2017\n"
        "    topic: cnns\n  - id: kaiser-2017-model\n    title: Y\n"
        "    authors: [B]\n    year: 2017\n    topic: cnns\n")
    ws.catalog_path.write_text(text)
    cat = catalog.load(ws.catalog_path)
    assert add_mod.new_id(cat, authors, 2017, "One Model To Learn Them All") == \
        "kaiser-2017-one"
    assert add_mod.new_id(cat, authors, 2017, "The Model") == "kaiser-2017-model-2"
    assert add_mod.new_id(cat, ["He, Kaiming"], 2015, "x") == "he-2015"


def test_catalog_cites_match_by_arxiv_id_doi_and_normalised_title(ws):
    cat = catalog.load(ws.catalog_path)
    links = [CitationLink(S2Paper("1", "Something else", arxiv="1409.0473v7")),
             CitationLink(S2Paper("2", "Unrelated", doi="10.1109/cvpr.2016.90")),
             CitationLink(S2Paper("3", "LAYER normalization.")),
             CitationLink(S2Paper("4", "Layer Normalization")),  # same paper twice
             CitationLink(S2Paper(None, None))]
    assert add_mod.catalog_cites(cat, links) == ["bahdanau", "resnet", "layer-norm"]


# --- the app page ---------------------------------------------------------------------------------


def _page(ws):
    from tests.apptest_helpers import open_page  # imports streamlit: only the app tests need it

    return open_page("add.py")


def test_add_page_previews_then_saves(ws, fake):
    at = _page(ws)
    assert not at.exception and at.title[0].value == "Add paper"
    at.text_input(key="add_query").set_value("1706.03762")
    at.selectbox(key="add_topic").set_value("sequences")
    at.button(key="add_lookup").click().run()
    assert not at.exception and not at.error
    assert "id: vaswani-2017" in at.code[0].value
    assert "vaswani-2017" not in catalog.load(ws.catalog_path)  # a preview writes nothing
    at.button(key="add_save").click().run()
    assert not at.exception and not at.error
    assert "Added **vaswani-2017**" in at.success[0].value
    assert "](" not in at.success[0].value  # a Markdown link would open a new tab
    assert [link.proto.page for link in at.get("page_link")][-1] == "paper"
    assert catalog.load(ws.catalog_path).by_id["vaswani-2017"].cites == (
        "resnet", "layer-norm", "bahdanau", "adam")


def test_add_page_shows_faults_and_offline_notices_in_boxes(ws, fake):
    at = _page(ws)
    at.text_input(key="add_query").set_value("0000.0000")
    at.button(key="add_lookup").click().run()
    assert not at.exception
    assert "arXiv has no paper 0000.0000" in at.error[0].value
    at.checkbox(key="add_offline").check().run()
    assert "Offline mode" in at.info[0].value
    at.text_input(key="add_query").set_value("1706.03762")
    at.button(key="add_lookup").click().run()
    assert "offline, and arXiv id 1706.03762 is not in the cache" in at.error[0].value
    assert catalog.load(ws.catalog_path).by_id.keys() == {"resnet", "bahdanau", "layer-norm",
                                                          "adam"}
