"""Reference entries: parsing the printed styles, fuzzing the parser, matching to a catalog,
citation edges and the pass-2 reference list."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.pdf_fixtures import make_paper
from workbench.catalog import validate as catalog_mod
from workbench.pdf import document as pdf
from workbench.pdf.refs import Reference, match_references, parse_reference, title_similarity
from workbench.pdf.structure import PaperStructure, Section
from workbench.workspace import Workspace

# --- parsing ----------------------------------------------------------------------------------------

STYLES = {
    "neurips numbered": (
        "[14] A. Krizhevsky and G.E. Hinton. Using very deep autoencoders for content-based image "
        "retrieval. In ESANN, 2011.",
        dict(label="14", authors=("A. Krizhevsky", "G.E. Hinton"), year=2011, venue="ESANN",
             title="Using very deep autoencoders for content-based image retrieval")),
    "lncs": (
        "12. Simonyan, K., Zisserman, A.: Very deep convolutional networks for large-scale image "
        "recognition (2014), arXiv:1409.1556 [cs.CV]",
        dict(label="12", authors=("K. Simonyan", "A. Zisserman"), year=2014, arxiv_id="1409.1556",
             title="Very deep convolutional networks for large-scale image recognition")),
    "iclr inverted initials": (
        "Zeiler, M. D. and Fergus, R. Visualizing and understanding convolutional networks. CoRR, "
        "abs/1311.2901, 2013. Published in Proc. ECCV, 2014.",
        dict(label=None, authors=("M. D. Zeiler", "R. Fergus"), arxiv_id="1311.2901", venue="CoRR",
             title="Visualizing and understanding convolutional networks")),
    "icml inverted full names": (
        "Bengio, Yoshua and Glorot, Xavier. Understanding the difficulty of training deep "
        "feedforward neural networks. In Proceedings of AISTATS 2010, volume 9, pp. 249-256, "
        "May 2010.",
        dict(authors=("Yoshua Bengio", "Xavier Glorot"), year=2010,
             title="Understanding the difficulty of training deep feedforward neural networks")),
    "apa year in parentheses": (
        "Hochreiter, S. and Schmidhuber, J. (1997). Long short-term memory. Neural Computation, "
        "9(8), 1735-1780.",
        dict(authors=("S. Hochreiter", "J. Schmidhuber"), year=1997, venue="Neural Computation",
             title="Long short-term memory")),
    "acl year after authors": (
        "Wilson L Taylor. 1953. Cloze procedure: A new tool for measuring readability. Journalism "
        "Bulletin, 30(4):415-433.",
        dict(authors=("Wilson L Taylor",), year=1953, venue="Journalism Bulletin",
             title="Cloze procedure: A new tool for measuring readability")),
    "quoted title": (
        "[3] T. Roscoe, \u201cWriting Reviews for Systems Conferences,\u201d "
        "http://people.inf.ethz.ch/troscoe/pubs/review-writing.pdf",
        dict(label="3", authors=("T. Roscoe",), title="Writing Reviews for Systems Conferences",
             url="http://people.inf.ethz.ch/troscoe/pubs/review-writing.pdf")),
    "hyphenated initials and et al": (
        "[20] T.-Y. Lin, P. Doll\u00b4ar, R. Girshick, et al. Feature pyramid networks for object "
        "detection. In CVPR, 2017. 1, 2, 4, 5, 6, 8",
        dict(authors=("T.-Y. Lin", "P. Doll\u00e1r", "R. Girshick"), year=2017, venue="CVPR",
             title="Feature pyramid networks for object detection")),
    "doi": (
        "Y. LeCun, L. Bottou, Y. Bengio, and P. Haffner. Gradient-based learning applied to "
        "document recognition. Proc. IEEE, 86(11), 1998. https://doi.org/10.1109/5.726791.",
        dict(doi="10.1109/5.726791", year=1998,
             title="Gradient-based learning applied to document recognition")),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_parse_reference_splits_each_printed_style(style):
    text, expected = STYLES[style]
    ref = parse_reference(text)
    for key, value in expected.items():
        assert getattr(ref, key) == value, key


def test_parse_reference_keeps_the_raw_text_cleaned():
    ref = parse_reference("[5] P. Doll\u00b4ar and Z. Tu.  Integral  channel\n features. "
                          "In BMVC, 2009.")
    assert ref.raw == "[5] P. Doll\u00e1r and Z. Tu. Integral channel features. In BMVC, 2009."
    assert ref.first_author_surname == "Doll\u00e1r"


def test_parse_reference_of_nothing_useful_gives_empty_fields():
    ref = parse_reference("Accessed: 2014-09-15.")
    assert ref.authors == () and ref.arxiv_id is None and ref.doi is None
    assert parse_reference("").raw == ""


def test_parse_reference_ignores_arxiv_lookalikes():
    assert parse_reference("A. B. Title. Pages 1234.5678, 2010.").arxiv_id is None  # month 56
    assert parse_reference("A. B. Title. arXiv:1312.5402, 2013.").arxiv_id == "1312.5402"
    assert parse_reference("A. B. Old. arXiv:hep-th/9901001, 1999.").arxiv_id == "hep-th/9901001"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_parse_reference_never_raises_on_any_text(text):
    ref = parse_reference(text)
    assert isinstance(ref, Reference)
    assert ref.year is None or 1950 <= ref.year <= 2049


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["Smith, J.", "and", "A.", "B. C.", ". ", ": ", "(2019)",
                                 "[1]", "12.", "arXiv:", "1706.03762", "10.1000/x", "\u201c",
                                 "\u201d", "Title words", ",", "In", "et al.", "2020.", "\u00b4",
                                 "-", "\n", "  "]), max_size=80))
def test_parse_reference_survives_reference_shaped_noise(parts):
    ref = parse_reference(" ".join(parts))
    assert isinstance(ref.authors, tuple)


def test_parse_reference_is_bounded_on_huge_input():
    ref = parse_reference("A. Author, " * 20000 + "Title. 2020.")
    assert len(ref.raw) > 100000  # the raw text is kept; only its head is parsed
    assert ref.title is None or len(ref.title) <= 400


# --- matching ------------------------------------------------------------------------------------------

CATALOG = """\
topics:
  - id: cnns
    title: CNNs
papers:
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He]
    year: 2015
    arxiv: "1512.03385"
    topic: cnns
  - id: lenet
    title: Gradient-Based Learning Applied to Document Recognition
    authors: [Yann LeCun]
    year: 1998
    doi: 10.1109/5.726791
    topic: cnns
  - id: alexnet
    title: ImageNet Classification with Deep Convolutional Neural Networks
    authors: [Alex Krizhevsky]
    year: 2012
    topic: cnns
  - id: nin
    title: Network In Network
    authors: [Min Lin]
    year: 2013
    arxiv: "1312.4400"
    topic: cnns
  - id: tiny
    title: Skip Connections Make Tiny Networks Trainable
    authors: [Ada Lovelace]
    year: 2024
    topic: cnns
    cites: [resnet]
"""


@pytest.fixture
def small_ws(tmp_path) -> Workspace:
    (tmp_path / "papers.yaml").write_text(CATALOG)
    return Workspace.resolve(tmp_path)


@pytest.fixture
def small_catalog(small_ws):
    return catalog_mod.load(small_ws.catalog_path)


def test_match_by_arxiv_id_then_doi_then_title(small_catalog):
    refs = [
        parse_reference("[1] K. He et al. Some preprint title. arXiv:1512.03385v2, 2015."),
        parse_reference("[2] Y. LeCun et al. A differently worded title. doi:10.1109/5.726791"),
        parse_reference("[3] A. Krizhevsky, I. Sutskever, G. Hinton. ImageNet classification "
                        "with deep convolutional neural networks. In NIPS, 2012."),
        parse_reference("[4] Someone. A paper the catalog does not have. In ICML, 2019."),
    ]
    got = [(m.entry, m.paper_id, m.method, m.score) for m in match_references(refs, small_catalog)]
    assert got == [(0, "resnet", "arxiv", 1.0), (1, "lenet", "doi", 1.0),
                   (2, "alexnet", "title", 1.0)]


def test_match_takes_a_whole_extracted_structure(small_catalog, tmp_path):
    structure = pdf.extract(make_paper(tmp_path / "tiny.pdf"), render=False)
    got = [(m.entry, m.paper_id) for m in match_references(structure, small_catalog, exclude="tiny")]
    assert got == [(0, "alexnet"), (1, "resnet"), (2, "lenet")]


def test_title_match_tolerates_small_differences_but_not_other_papers(small_catalog):
    close = parse_reference("A. Krizhevsky. Imagenet classification with deep convolutional "
                            "networks. NIPS 2012.")
    other = parse_reference("M. Lin. Network in network in network. ICLR 2014.")
    assert title_similarity(close.title, small_catalog.by_id["alexnet"].title) > 0.9
    assert [m.paper_id for m in match_references([close], small_catalog)] == ["alexnet"]
    assert match_references([other], small_catalog, threshold=0.95) == []


def test_title_match_is_refused_when_the_years_disagree(small_catalog):
    ref = parse_reference("M. Lin. Network in network. In ICLR, 2019.")
    assert match_references([ref], small_catalog) == []


def test_match_excludes_the_citing_paper_itself(small_catalog):
    ref = parse_reference("A. Lovelace. Skip connections make tiny networks trainable. 2024.")
    assert match_references([ref], small_catalog, exclude="tiny") == []
    assert match_references([ref], small_catalog)[0].paper_id == "tiny"


def test_citation_edges_come_from_the_papers_pdfs(small_ws, small_catalog, tmp_path):
    make_paper(small_ws.pdfs_dir / "tiny.pdf")  # cites AlexNet, ResNet (arXiv) and LeCun (DOI)
    edges = list(pdf.pdf_citation_edges(small_ws, small_catalog))
    assert sorted((u, v, a["method"]) for u, v, a in edges) == [
        ("tiny", "alexnet", "title"), ("tiny", "lenet", "doi"), ("tiny", "resnet", "arxiv")]
    assert all(a["source"] == "pdf" for _, _, a in edges)


def test_citation_edges_skip_an_unreadable_pdf(small_ws, small_catalog):
    small_ws.pdfs_dir.mkdir()
    (small_ws.pdfs_dir / "tiny.pdf").write_text("<html>not a pdf</html>")
    assert list(pdf.pdf_citation_edges(small_ws, small_catalog)) == []


# --- the pass-2 reference list -------------------------------------------------------------------------


def test_reading_material_ticks_read_references_and_ranks_the_rest(small_ws, small_catalog):
    from workbench.notes.material import reading_material

    make_paper(small_ws.pdfs_dir / "tiny.pdf")
    paper = small_catalog.by_id["tiny"]
    material = reading_material(small_ws, paper, small_catalog, read_ids={"alexnet"})
    assert material.problem is None
    assert material.pass1.headings[0] == (1, "1 Introduction")
    items = material.pass2.references
    assert [(i.paper_id, i.read) for i in items] == [
        ("alexnet", True), ("resnet", False), ("lenet", False)]
    # resnet is cited by a catalog paper (tiny's own `cites`), lenet by none
    assert [i.paper_id for i in material.pass2.read_next] == ["resnet", "lenet"]
    assert len(material.pass2.figures) == 1


def test_reading_material_without_a_pdf_says_where_to_put_it(small_ws, small_catalog):
    from workbench.notes.material import reading_material

    material = reading_material(small_ws, small_catalog.by_id["resnet"], small_catalog)
    assert material.pass1 is None and "pdfs/1512.03385.pdf" in material.problem


def test_citation_counts_expand_bracket_ranges():
    from workbench.notes.material import citation_counts

    refs = tuple(parse_reference(f"[{i}] A. B. Title {i}. 2020.") for i in range(1, 6))
    section = Section("1 Intro", "1", "Intro", 1, 1, "as in [1, 3] and [2\u20134], see [3].")
    s = PaperStructure("0" * 64, "x.pdf", 1, "", "", "", (section,), "", "", None, (), refs)
    assert citation_counts(s) == [1, 1, 3, 1, 0]
