"""workbench.pdf.document on the course's real arXiv PDFs against their hand-checked ground truth
(../shared/pdfs/ground_truth.yaml): the traps there (the rotated arXiv stamp, fake small caps,
section numbers in their own spans, back-reference page numbers, footers and figures between
references) are what these tests guard."""

from __future__ import annotations

import difflib
import re

import pytest
import yaml

from tests.conftest import SHARED_PDFS, requires_shared

pytestmark = requires_shared

TRUTH = (yaml.safe_load((SHARED_PDFS / "ground_truth.yaml").read_text(encoding="utf-8"))["papers"]
         if (SHARED_PDFS / "ground_truth.yaml").is_file() else [])
FILES = [p["file"] for p in TRUTH]

# Scanned and bitmap-font PDFs (`text_layer:` in the ground truth) have no usable text until OCR
# lands (issue 24). Each check they fail today is an expected failure, strict: the day one
# passes, pytest says so and its line here goes.
NEEDS_OCR = {p["file"] for p in TRUTH if p.get("text_layer")}
FAILS_WITHOUT_OCR = {
    "test_title_matches_the_ground_truth": NEEDS_OCR,
    "test_level1_headings_are_exactly_the_printed_ones_in_order":
        {"lecun1998_gradient_based_type3.pdf"},
    "test_reference_count_is_within_one_of_the_truth": NEEDS_OCR,
    "test_sample_references_are_found_as_whole_entries": NEEDS_OCR,
    "test_conclusion_heading_matches_or_is_absent": {"lecun1998_gradient_based_type3.pdf"},
    "test_author_line_names_the_first_author": NEEDS_OCR,
    "test_abstract_is_a_paragraph_and_not_the_introduction": NEEDS_OCR,
}


def pytest_collection_modifyitems(items):  # called by tests/conftest.py for this module
    for item in items:
        file = getattr(item, "callspec", None) and item.callspec.params.get("file")
        if file in FAILS_WITHOUT_OCR.get(item.originalname, ()):
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"{file} has no usable text "
                                              "layer; OCR is issue 24"))
_extracted: dict = {}


def _paper(file: str):
    from workbench.pdf import document as pdf

    if file not in _extracted:  # each PDF is extracted once for all its tests
        _extracted[file] = pdf.extract(SHARED_PDFS / file, render=False)
    return _extracted[file], next(p for p in TRUTH if p["file"] == file)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _alnum(text: str) -> str:
    from workbench.pdf.refs import normalise_title

    return re.sub(r"[^0-9a-z]", "", normalise_title(text))


@pytest.mark.parametrize("file", FILES)
def test_title_matches_the_ground_truth(file):
    s, truth = _paper(file)
    assert _norm(s.title) == _norm(truth["title"])


@pytest.mark.parametrize("file", FILES)
def test_level1_headings_are_exactly_the_printed_ones_in_order(file):
    s, truth = _paper(file)
    assert [_norm(h) for h in s.headings] == [_norm(h) for h in truth["sections_level1"]]


@pytest.mark.parametrize("file", FILES)
def test_reference_count_is_within_one_of_the_truth(file):
    s, truth = _paper(file)
    assert abs(len(s.references) - truth["references_count"]) <= 1


@pytest.mark.parametrize("file", FILES)
def test_sample_references_are_found_as_whole_entries(file):
    s, truth = _paper(file)
    entries = [_alnum(r.raw) for r in s.references]
    for sample in truth["reference_samples"]:
        best = max(difflib.SequenceMatcher(None, _alnum(sample), e, autojunk=False).ratio()
                   for e in entries)
        assert best >= 0.9, sample


@pytest.mark.parametrize("file", FILES)
def test_conclusion_heading_matches_or_is_absent(file):
    s, truth = _paper(file)
    expected = truth["conclusion_heading"]
    assert (s.conclusion_heading and _norm(s.conclusion_heading)) == (expected and _norm(expected))
    assert bool(s.conclusion) == bool(expected)


@pytest.mark.parametrize("file", FILES)
def test_author_line_names_the_first_author(file):
    s, truth = _paper(file)
    assert truth["first_author_surname"] in s.authors.split(",")[0]


@pytest.mark.parametrize("file", FILES)
def test_abstract_is_a_paragraph_and_not_the_introduction(file):
    s, truth = _paper(file)
    assert 200 < len(s.abstract) < 2500
    assert not _norm(s.abstract).startswith(("abstract", "1 introduction"))
    assert s.introduction and s.introduction[:200] not in s.abstract


@pytest.mark.parametrize("file, figures", [
    ("1512.03385.pdf", 7), ("1505.04597.pdf", 4), ("1512.02325.pdf", 6)])
def test_figure_captions_are_found_with_their_numbers(file, figures):
    s, _ = _paper(file)
    numbers = [f.number for f in s.figures if f.kind == "figure"]
    assert numbers == [str(n) for n in range(1, figures + 1)]
    assert all(f.bbox for f in s.figures if f.kind == "figure")


def test_arxiv_stamp_is_never_the_title_or_a_heading():
    for file in FILES:
        s, _ = _paper(file)
        assert "arxiv:" not in s.title.lower()
        assert not any("arxiv:" in h.lower() for h in s.headings)


def test_small_caps_titles_keep_their_words():
    s, _ = _paper("1409.1556.pdf")
    assert s.title == "VERY DEEP CONVOLUTIONAL NETWORKS FOR LARGE-SCALE IMAGE RECOGNITION"


def test_figure_between_references_is_not_glued_onto_an_entry():
    s, _ = _paper("1312.4400.pdf")  # Figure 4 sits between entries [1] and [2]
    assert "Figure 4" not in s.references[0].raw
    assert s.references[0].raw.startswith("[1]") and s.references[1].raw.startswith("[2]")


def test_footnote_under_the_last_reference_is_not_part_of_it():
    s, _ = _paper("1505.04597.pdf")
    assert "U-net implementation" not in s.references[-1].raw


def test_back_reference_page_numbers_stay_with_their_entry():
    s, _ = _paper("1708.02002.pdf")
    assert s.references[19].raw.endswith("In CVPR, 2017. 1, 2, 4, 5, 6, 8")
    assert s.references[19].year == 2017 and s.references[19].venue == "CVPR"


def test_running_headers_never_enter_the_reference_list():
    s, _ = _paper("1409.0473.pdf")
    assert not any("Published as a conference paper" in r.raw for r in s.references)
