"""Handouts and slides: what each format holds, what it says when something is missing, and a PDF
that opens with PyMuPDF and holds the five Cs and the figures.

Everything runs on the handout workspace of tests/workspaces.py in tmp_path (a small catalog, PDFs
drawn with PyMuPDF: a figure of three boxes and a caption, notes saved through
`workbench.notes.store`) and run folders in the format `workbench.runs.folders` reads: no
../shared, no network.
"""

from __future__ import annotations

import base64
import io
import json
import re
import unicodedata
import zipfile

import pymupdf
import pytest

from tests.workspaces import CAPTIONS, HANDOUT, HANDOUT_NOTES, make_workspace, write_note
from workbench.sessions import handout
from workbench.sessions import html as handout_html
from workbench.sessions import markdown as handout_markdown
from workbench.sessions import output as handout_export
from workbench.workspace import Workspace


def write_run(ws: Workspace, run_id: str, name: str, queued_ns: int, claims=None,
              state: str = "done", preset: str = "mini", overrides=None) -> None:
    """A run folder as `workbench.runs.folders` reads it: request, launch and (when done) result."""
    folder = ws.runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "request.json").write_text(json.dumps(
        {"name": name, "preset": preset, "overrides": overrides or {}, "queued_ns": queued_ns}))
    (folder / "launch.json").write_text(json.dumps({"argv": [], "pid": None, "started": 1.0}))
    if state == "done":
        (folder / "result.json").write_text(json.dumps(
            {"name": name, "paper": name, "preset": preset, "metrics": {},
             "claims": claims or []}))
    else:
        (folder / "status.json").write_text(json.dumps({"state": "failed", "error": "boom"}))


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws", **HANDOUT)


@pytest.fixture
def session_handout(ws):
    write_run(ws, "run-old", "resnet", 1, [
        {"id": "degradation", "text": "deeper plain nets train worse", "paper": "old number",
         "source": "Fig. 1", "measured": "old run", "verdict": "not reproduced"}])
    write_run(ws, "run-new", "resnet", 2, [
        {"id": "degradation", "text": "deeper plain nets train worse",
         "paper": "plain-56 > plain-20 training error", "source": "Fig. 1",
         "measured": "plain-56 1.52 vs plain-20 0.01", "verdict": "reproduced in miniature",
         "compared_with": ["plain-20", "residual-56"], "margin": 1.5, "needs": ""},
        {"id": "imagenet-top1", "text": "ResNet-50 top-1 error", "paper": "20.74%",
         "source": "Table 3", "measured": "", "verdict": "not applicable",
         "compared_with": [], "margin": None, "needs": "preset paper, ImageNet-1k"}])
    write_run(ws, "run-newest-failed", "resnet", 3, state="failed")
    write_run(ws, "run-newer-tiny", "resnet", 4, SMOKE_CLAIMS, preset="tiny",
              overrides={"residual": "False"})
    write_run(ws, "run-newest-ablation", "resnet", 5, SMOKE_CLAIMS, overrides={"residual": "False"})
    return handout.handout_for(ws, "week-6")


SMOKE_CLAIMS = [{"id": "degradation", "text": "deeper plain nets train worse", "paper": "p",
                 "source": "Fig. 1", "measured": "", "verdict": "not applicable"}]


def pdf_text(data: bytes) -> str:
    """All text, whitespace collapsed and ligatures ('ﬁ') unfolded (NFKC)."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        text = " ".join(page.get_text() for page in doc)
    return " ".join(unicodedata.normalize("NFKC", text).split())


def squash(text: str) -> str:
    return " ".join(text.split())


# --- gathering --------------------------------------------------------------------------------


def test_five_cs_are_merged_across_readers_with_attribution(session_handout):
    resnet = session_handout.papers[0]
    assert resnet.readers == ("alice", "bob")
    category = dict((c.key, answers) for c, answers in resnet.five_cs)["category"]
    # identical answers are one entry naming both readers
    assert [(a.text, a.readers) for a in category] == [
        ("An architecture paper with a large empirical study.", ("alice", "bob"))]
    context = dict((c.key, answers) for c, answers in resnet.five_cs)["context"]
    assert [a.readers for a in context] == [("alice",), ("bob",)]


def test_key_figures_come_from_the_pdf_with_their_captions(session_handout):
    resnet, transformer, vit = session_handout.papers
    assert [f.caption for f in resnet.figures] == [CAPTIONS["resnet"]]
    fig = resnet.figures[0]
    assert fig.png.startswith(b"\x89PNG") and fig.page == 1
    # re-rendered at 150 dpi from the drawn box (about 300 x 60 pt, plus the labels)
    assert 600 <= fig.width <= 660 and 120 <= fig.height <= 150
    assert [f.caption for f in transformer.figures] == [CAPTIONS["transformer"]]
    assert vit.figures == () and "no PDF in the workspace" in vit.missing["figures"]


def test_results_come_from_the_newest_mini_run_without_overrides(session_handout):
    results = session_handout.papers[0].results
    # not the older run, the newer failed one, the tiny smoke test or the residual=False one
    assert results.run_id == "run-new" and results.preset == "mini"
    assert [(c.compared_with, c.measured, c.verdict) for c in results.claims] == [
        ("plain-20, residual-56", "plain-56 1.52 vs plain-20 0.01", "reproduced in miniature")]
    # a paper-scale number never sits in the same row as a miniature verdict
    assert [(c.paper_value, c.needs) for c in results.paper_claims] == [
        ("20.74%", "preset paper, ImageNet-1k")]
    assert "no reproduction" in session_handout.papers[2].missing["results"]


def test_neighbourhood_lists_prior_and_later_catalog_papers(session_handout):
    hood = session_handout.papers[0].neighbourhood
    assert [r.id for r in hood.builds_on] == ["lenet"]
    assert [r.id for r in hood.came_after] == ["transformer", "vit"]
    assert [r.id for r in hood.reading_order] == ["lenet", "resnet"]


def test_questions_are_drawn_from_pass_three_and_question_lines(session_handout):
    groups = {g.heading: [(a.text, a.readers) for a in g.items]
              for g in session_handout.papers[0].questions}
    assert groups["Assumptions challenged"] == [
        ("That degradation is an optimisation problem.", ("alice",))]
    assert groups["Open questions"] == [
        ("Why is option B used on ImageNet but option A on CIFAR?", ("alice",))]
    assert groups["Ideas for future work"] == [("Study depth against data size.", ("bob",))]


def test_a_paper_without_notes_pdf_or_run_says_what_is_missing(session_handout):
    vit = session_handout.papers[2]
    assert set(vit.missing) == {"notes", "figures", "results", "presenters"}
    md = handout_markdown.to_markdown(session_handout)
    vit_md = md[md.index("## 3. An Image is Worth"):]
    assert "**Not available:** reading notes; figures; reproduction results; presenter." in vit_md
    assert "_Not available: no reading notes yet: nobody in the group has started" in vit_md
    assert "_Not available: no PDF in the workspace, so no figures: put it at pdfs/vit.pdf" \
        in vit_md
    assert "_Not available: this paper has no reproduction in the workbench._" in vit_md
    text = pdf_text(handout_html.to_pdf(session_handout))
    assert "Not available: no reading notes yet" in text
    assert "no PDF in the workspace, so no figures" in text
    assert "no presenter assigned yet" in text


def test_a_paper_with_a_reproduction_but_no_finished_run_says_how_to_start_one(ws):
    h = handout.handout_for(ws, "resnet")
    assert "no finished run of the 'resnet' reproduction yet: start one with " \
        "`workbench repro run resnet --preset mini`" in h.papers[0].missing["results"]


def test_a_tiny_smoke_test_is_never_the_handouts_evidence(ws):
    write_run(ws, "run-tiny", "resnet", 1, SMOKE_CLAIMS, preset="tiny")
    ph = handout.handout_for(ws, "resnet").papers[0]
    assert ph.results is None
    assert ph.missing["results"] == (
        "no finished mini or paper run of the 'resnet' reproduction without overrides (run "
        "run-tiny is a smoke test (preset tiny): it checks that the code runs and evaluates no "
        "claim): start one with `workbench repro run resnet --preset mini` or on the Reproduce "
        "page")


def test_unreadable_note_is_reported_and_the_rest_still_used(ws):
    bad = ws.note_path("resnet", "carol")
    bad.write_text("---\npass1: [unclosed\n---\n", encoding="utf-8")
    ph = handout.handout_for(ws, "resnet").papers[0]
    assert ph.readers == ("alice", "bob")
    assert "carol's note could not be read" in ph.missing["notes"]
    assert "notes/resnet/carol.md" in ph.missing["notes"]


def test_a_damaged_pdf_is_reported_not_raised(ws):
    (ws.root / "pdfs" / "resnet-drawn.pdf").write_bytes(b"%PDF-1.7\n garbage")
    ph = handout.handout_for(ws, "resnet").papers[0]
    assert ph.figures == () and ph.missing["figures"].startswith("the PDF could not be read")


def test_unknown_target_names_the_closest_session_or_paper(ws):
    with pytest.raises(handout.HandoutError, match="did you mean 'week-6'"):
        handout.handout_for(ws, "week-7")
    with pytest.raises(handout.HandoutError, match="did you mean 'resnet'"):
        handout.handout_for(ws, "resnt")


# --- formats -----------------------------------------------------------------------------------


def test_pdf_handout_holds_every_papers_five_cs_and_figure_images(session_handout):
    data = handout_export.export(session_handout, "pdf").data
    text = pdf_text(data)
    for (paper, reader), fields in HANDOUT_NOTES.items():
        for key in ("category", "context", "correctness", "clarity"):
            assert squash(fields[key]) in text, (paper, reader, key)
    assert "Residual blocks with identity shortcuts" in text
    assert CAPTIONS["resnet"] in text and CAPTIONS["transformer"] in text
    figures = [f for ph in session_handout.papers for f in ph.figures]
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        images = [img for page in doc for img in page.get_images(full=True)]
        assert doc.metadata["title"] == "Week 6: residuals and attention"
        footer = doc[-1].get_text()
        assert f"page {doc.page_count} of {doc.page_count}" in footer
    assert sorted((img[2], img[3]) for img in images) == \
        sorted((f.width, f.height) for f in figures)


def test_pdf_starts_each_later_paper_on_a_new_page(session_handout):
    data = handout_html.to_pdf(session_handout)
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        starts = {}
        for i, page in enumerate(doc):
            for title in ("1. Deep Residual Learning", "2. Attention Is All You Need",
                          "3. An Image is Worth"):
                if title in page.get_text() and title not in starts:
                    starts[title] = (i, page.search_for(title)[0].y0)
    assert starts["1. Deep Residual Learning"][0] == 0  # right after the session's overview
    assert starts["2. Attention Is All You Need"][0] > starts["1. Deep Residual Learning"][0]
    for title in ("2. Attention Is All You Need", "3. An Image is Worth"):
        assert starts[title][1] < 80  # at the top of its page


def test_markdown_handout_has_citation_attribution_figures_and_results(session_handout):
    e = handout_export.export(session_handout, "md")
    md = e.data.decode()
    assert md.startswith("# Week 6: residuals and attention\n")
    assert "| 1 | Deep Residual Learning for Image Recognition (He et al. 2015) | Alice Martin, " \
        "Bob Chen |" in md
    assert "> Kaiming He, Xiangyu Zhang, Shaoqing Ren and Jian Sun. Deep Residual Learning for " \
        "Image Recognition. CVPR 2016, 2015. arXiv:1512.03385. doi:10.1109/CVPR.2016.90." in md
    assert "cite as `he2015deep`" in md
    assert "- An architecture paper with a large empirical study. — *alice, bob*" in md
    assert "- Related to highway networks and VGG. — *bob*" in md
    links = re.findall(r"!\[Figure 1\]\(([^)]+)\)", md)
    assert links == ["week-6-handout_figures/resnet-figure-1.png",
                     "week-6-handout_figures/transformer-figure-1.png"]
    assert set(e.assets) == set(links)
    assert "| deeper plain nets train worse | plain-20, residual-56 | " \
        "plain-56 1.52 vs plain-20 0.01 | reproduced in miniature |" in md
    assert "| ResNet-50 top-1 error | 20.74% (Table 3) | preset paper, ImageNet-1k |" in md
    assert "20.74%" not in md.split("What the paper reports at full scale")[0].split(
        "### Reproduction")[-1]
    assert "1. That degradation is an optimisation problem. — *alice*" in md
    assert "**Reading order**: LeCun & Bottou 1998 → **He et al. 2015**" in md


def test_html_is_self_contained_escaped_and_prints_cleanly(ws, session_handout):
    write_note(ws, "lenet", "mallory", category="<script>alert(1)</script> **bold**",
               summary="![x](http://example.com/tracker.png) text")
    page = handout_html.to_html(handout.handout_for(ws, "lenet"))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<strong>bold</strong>" in page
    assert not re.search(r"<img[^>]*example\.com", page)  # no remote images from notes
    html = handout_html.to_html(session_handout)
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(b"\x89PNG")
    assert "@page { size: A4" in html and "break-before: page" in html
    assert "Carol Diaz" in html and "to be assigned" in html
    assert "set <code>pdf:</code> in papers.yaml" in html  # Markdown code in messages


def test_slides_are_a_marp_deck_with_figures_next_to_it(session_handout, tmp_path):
    e = handout_export.export(session_handout, "slides", "deck.md")
    deck = e.data.decode()
    assert deck.startswith("---\nmarp: true\n")
    slides = deck.split("\n---\n")
    titles = [m for s in slides for m in re.findall(r"^#{1,2} (.+)$", s, re.M)]
    assert titles[:2] == ["Week 6: residuals and attention",
                          "Deep Residual Learning for Image Recognition"]
    assert {"The five Cs", "Figure 1", "Reproduction in miniature: run `run-new` (mini)",
            "Questions for discussion"} <= set(titles)
    assert "Not available: no reading notes yet" in deck  # vit's five Cs slide
    written = e.write(tmp_path / "out" / "deck.md")
    for link in re.findall(r"!\[w:\d+\]\(([^)]+)\)", deck):
        assert (tmp_path / "out" / link).read_bytes().startswith(b"\x89PNG")
    assert len(written) == 3  # the deck and two figures


def test_download_zips_markdown_with_its_figures(session_handout):
    name, data, mime = handout_export.export(session_handout, "md").download()
    assert (name, mime) == ("week-6-handout.zip", "application/zip")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert sorted(z.namelist()) == ["week-6-handout.md",
                                        "week-6-handout_figures/resnet-figure-1.png",
                                        "week-6-handout_figures/transformer-figure-1.png"]
    assert handout_export.export(session_handout, "pdf").download()[0] == "week-6-handout.pdf"


def test_unknown_format_is_refused(session_handout):
    with pytest.raises(handout.HandoutError, match="unknown format 'docx'; use one of: md, "):
        handout_export.export(session_handout, "docx")


def test_single_paper_handout_has_no_session_overview(ws):
    md = handout_markdown.to_markdown(handout.handout_for(ws, "transformer"))
    assert md.startswith("## Attention Is All You Need\n")
    assert "Carol Diaz" not in md and "presenter" not in md


# --- CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, name", [("md", "week-6-handout.md"),
                                       ("html", "week-6-handout.html"),
                                       ("pdf", "week-6-handout.pdf"),
                                       ("slides", "week-6-slides.md")])
def test_cli_handout_writes_each_format(ws, tmp_path, monkeypatch, capsys, fmt, name):
    from workbench.cli.commands import main

    monkeypatch.chdir(tmp_path)
    assert main(["--workspace", str(ws.root), "handout", "week-6", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert f"wrote {name} (3 papers" in out
    assert "vit: no reading notes: no reading notes yet" in out
    assert (tmp_path / name).stat().st_size > 1000


def test_cli_handout_errors_are_one_line(ws, capsys):
    from workbench.cli.commands import main

    assert main(["--workspace", str(ws.root), "handout", "week-6", "--format", "docx"]) == 1
    assert main(["--workspace", str(ws.root), "handout", "nope"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unknown format 'docx'; use one of: md, html, pdf, slides",
                   "error: 'nope' is neither a session in sessions/ nor a paper in papers.yaml"]


# --- PDF layout ----------------------------------------------------------------------------------


def test_layout_breaks_before_a_heading_stranded_at_the_bottom_or_a_split_group():
    rect = pymupdf.Rect
    bottom = handout_html.PAGE[1] - handout_html.MARGIN[3]
    placed = {"intro": (1, rect(48, 100, 500, 115), 3),
              "fig0": (1, rect(48, 300, 500, 700), 0),
              "fig0-caption": (2, rect(48, 46, 500, 70), 0),        # caption on the next page
              "late": (2, rect(48, bottom - 30, 500, bottom - 15), 3)}
    groups = {"fig0": "fig0-caption"}
    assert handout_html._first_bad_break(placed, set(), groups) == "fig0"
    assert handout_html._first_bad_break(placed, {"fig0"}, groups) == "late"
    assert handout_html._first_bad_break(placed, {"fig0", "late"}, groups) is None
    # a group taller than a page cannot be helped by a break
    placed["fig0"] = (1, rect(48, 100, 500, 700), 0)
    placed["fig0-caption"] = (2, rect(48, 46, 500, 500), 0)
    assert handout_html._first_bad_break(placed, {"late"}, groups) is None


def test_cli_handout_out_may_be_a_folder_and_bad_paths_are_one_line_errors(ws, tmp_path, capsys):
    from workbench.cli.commands import main

    folder = tmp_path / "handouts"
    folder.mkdir()
    assert main(["--workspace", str(ws.root), "handout", "resnet", "--format", "md",
                 "--out", str(folder)]) == 0
    assert (folder / "resnet-handout.md").is_file()
    assert (folder / "resnet-handout_figures" / "resnet-figure-1.png").is_file()
    new_folder = tmp_path / "not-yet"  # a trailing slash names a folder to create
    assert main(["--workspace", str(ws.root), "handout", "resnet", "--format", "html",
                 "--out", f"{new_folder}/"]) == 0
    assert (new_folder / "resnet-handout.html").is_file()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["--workspace", str(ws.root), "handout", "resnet", "--format", "pdf",
                 "--out", str(blocker / "x.pdf")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and err.count("\n") == 1
