"""The catalog: every validation problem with its line number, the shipped catalog, round trips."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, SHIPPED_CATALOG
from workbench.catalog import validate as catalog
from workbench.catalog.model import Problem
from workbench.catalog.write import append_paper, render_entry
from workbench.errors import CatalogError

GOOD = textwrap.dedent(
    """\
    # A small catalog.
    topics:
      - id: cnns
        title: Convolutional networks
      - id: transformers
        title: Attention & transformers
    papers:
      # --- CNNs ---
      - id: vgg
        title: Very Deep Convolutional Networks for Large-Scale Image Recognition
        authors: [Karen Simonyan, Andrew Zisserman]
        year: 2015
        venue: ICLR 2015
        arxiv: "1409.1556"
        topic: cnns
      - id: resnet
        title: Deep Residual Learning for Image Recognition
        authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
        year: 2015
        arxiv: "1512.03385"
        doi: 10.1109/CVPR.2016.90
        topic: cnns
        cites: [vgg]   # a trailing comment
      # --- Transformers ---
      - id: attention
        title: Attention Is All You Need
        authors: [Ashish Vaswani]
        year: 2017
        arxiv: "1706.03762"
        topic: transformers
        cites: [resnet]
    """
)


def problems_of(text: str) -> list[Problem]:
    cat, problems = catalog.validate_text(text)
    return problems


def errors_of(text: str) -> list[str]:
    return [str(p) for p in problems_of(text) if p.severity == "error"]


def replace_line(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_good_catalog_loads_into_immutable_models():
    cat, problems = catalog.validate_text(GOOD)
    assert problems == []
    assert [p.id for p in cat.papers] == ["vgg", "resnet", "attention"]
    resnet = cat.by_id["resnet"]
    assert resnet.authors[0] == "Kaiming He" and resnet.cites == ("vgg",)
    assert [p.id for p in cat.cited_by("vgg")] == ["resnet"]
    assert resnet.line == 16
    with pytest.raises(AttributeError):
        resnet.title = "changed"  # frozen
    with pytest.raises(TypeError):
        cat.by_id["x"] = resnet  # read-only mapping


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    title: Convolutional networks\n", "    title: [oops\n",
         "papers.yaml:5:7: YAML syntax error: did not find expected ',' or ']' (while parsing "
         "a flow sequence at line 4)"),
        ("    venue: ICLR 2015\n", "    venu: ICLR 2015\n",
         "papers.yaml:13:5: unknown key 'venu' (did you mean 'venue'?)"),
        ("    year: 2015\n", "", "papers.yaml:9:5: paper #1 (vgg) is missing 'year'"),
        ("  - id: attention\n", "  - id: resnet\n",
         "papers.yaml:25:9: duplicate id 'resnet' (first used on line 16)"),
        ("  - id: vgg\n", "  - id: VGG_16\n", "papers.yaml:9:9: id 'VGG_16' is not a slug"),
        ("    topic: transformers\n", "    topic: transformer\n",
         "papers.yaml:30:12: unknown topic 'transformer' (did you mean 'transformers'?)"),
        ("    cites: [vgg]", "    cites: [vgg16]",
         "papers.yaml:23:13: 'resnet' cites 'vgg16', which is not in the catalog"),
        ("    cites: [vgg]", "    cites: [vgg, resnet]",
         "papers.yaml:23:18: 'resnet' cites itself"),
        ('    arxiv: "1409.1556"\n', "    arxiv: 1409.1550\n",
         'papers.yaml:14:12: arXiv id 1409.1550 was read as a number: quote it'),
        ('    arxiv: "1512.03385"\n', '    arxiv: "arXiv:1512"\n',
         "papers.yaml:20:12: malformed arXiv id 'arXiv:1512'"),
        ("    doi: 10.1109/CVPR.2016.90\n", "    doi: https://doi.org/10.1109/CVPR.2016.90\n",
         "papers.yaml:21:10: malformed DOI"),
        ("    year: 2017\n", "    year: 1850\n", "papers.yaml:28:11: year 1850 is out of range"),
        ("    year: 2017\n", "    year: soon\n",
         "papers.yaml:28:11: year must be a whole number"),
        ("    topic: cnns\n    cites: [vgg]", "    topic: cnns\n    reproduction: resnet-9000\n"
         "    cites: [vgg]", "papers.yaml:23:19: unknown reproduction 'resnet-9000'"),
        ("papers:\n", "paper:\n", "papers.yaml:7:1: unknown top-level key 'paper'"),
        ("    authors: [Ashish Vaswani]\n", "    authors: Ashish Vaswani\n",
         "papers.yaml:27:14: authors must be a list"),
    ],
    ids=["yaml-syntax", "unknown-key", "missing-field", "duplicate-id", "bad-slug",
         "unknown-topic", "dangling-cite", "self-cite", "unquoted-arxiv", "bad-arxiv",
         "bad-doi", "year-range", "year-type", "unknown-reproduction", "unknown-top-key",
         "authors-not-list"],
)
def test_each_problem_is_reported_with_its_line_and_column(old, new, expected):
    errors = errors_of(replace_line(GOOD, old, new))
    assert any(e.startswith(expected) for e in errors), errors


@pytest.mark.parametrize(("link", "expected"), [
    ("{module: alexnet, relation: dataset of, shows: Trains on it.}", ""),
    ("{module: resnet, preset: resnet20, relation: variant of, shows: CIFAR ResNet-20.}", ""),
    ("{module: workbench, shows: The Read page.}", ""),
    ("{module: resnet, relation: uses}", "23:19: relation 'uses' needs `shows:`"),
    ("{module: resnet, relation: variant off, shows: x}",
     "23:19: unknown relation 'variant off' (did you mean 'variant of'?)"),
    ("{module: resnet, preset: mini-1989}", "23:19: reproduction resnet has no preset 'mini-1989'"),
    ("{modul: resnet}", "23:19: unknown key 'modul' in reproduction (did you mean 'module'?)"),
    ("{module: resnet, shows: [a, b]}", "23:19: shows must be one line"),
    ("{module: [resnet]}", "23:19: unknown reproduction"),
])
def test_a_reproduction_link_names_a_module_its_relation_and_what_the_run_shows(link, expected):
    text = replace_line(GOOD, "    topic: cnns\n    cites: [vgg]",
                        f"    topic: cnns\n    reproduction: {link}\n    cites: [vgg]")
    errors = errors_of(text)
    if expected:
        assert any(e.startswith(f"papers.yaml:{expected}") for e in errors), errors
    else:
        assert not errors
        resnet = catalog.validate_text(text)[0].get("resnet")
        assert resnet.reproduction_line.split(":")[0] in (
            "Dataset of", "Variant of", "Implements")
        assert resnet.reproduction_line.endswith(".")


def test_every_cnns_and_reading_paper_links_to_a_reproduction():  # issue 20
    cat = catalog.load(SHIPPED_CATALOG)
    missing = [p.id for p in cat.papers
               if p.topic in ("cnns", "reading-papers") and not p.reproduction]
    assert not missing, f"no reproduction linked: {missing}"


def test_every_catalog_paper_with_a_reproduction_names_what_it_shows_unless_it_implements_it():
    cat = catalog.load(SHIPPED_CATALOG)
    linked = [p for p in cat.papers if p.reproduction]
    assert {"imagenet", "ilsvrc", "keshav-how-to-read"} <= {p.id for p in linked}
    assert all(p.shows for p in linked if p.relation != "implements")
    assert cat.get("keshav-how-to-read").reproduction == "workbench"


def test_every_problem_is_reported_not_only_the_first():
    text = GOOD.replace("venue: ICLR 2015", "venu: ICLR 2015").replace(
        "topic: transformers", "topic: rnns").replace("cites: [vgg]", "cites: [nowhere]")
    errors = errors_of(text)
    assert len(errors) == 3, errors
    assert [int(e.split(":")[1]) for e in errors] == sorted(int(e.split(":")[1]) for e in errors)


def test_citing_a_paper_published_years_later_is_only_a_warning():
    text = GOOD.replace("    cites: [vgg]   # a trailing comment", "    cites: [vgg, attention]")
    cat, problems = catalog.validate_text(text)
    assert cat is not None
    assert [p.severity for p in problems] == ["warning"]
    assert "published 2 years later" in problems[0].message


def test_a_venue_naming_another_year_than_year_is_a_warning_on_the_year_line():
    # ResNet: arXiv v1 in December 2015, published at CVPR 2016: `year` is the venue's
    text = GOOD.replace("    doi: 10.1109/CVPR.2016.90\n",
                        "    doi: 10.1109/CVPR.2016.90\n    venue: CVPR 2016\n")
    cat, problems = catalog.validate_text(text)
    assert cat is not None, "a warning, not an error"
    assert [(p.severity, p.line) for p in problems] == [("warning", 19)]
    assert str(problems[0]).startswith(
        "papers.yaml:19:11: warning: year 2015 but venue 'CVPR 2016' names 2016")
    fixed, problems = catalog.validate_text(text.replace("year: 2015\n    arxiv: \"1512",
                                                         "year: 2016\n    arxiv: \"1512"))
    assert problems == [] and fixed.by_id["resnet"].year == 2016


def test_the_paper_line_shows_each_year_once_and_notes_an_earlier_arxiv_year():
    cat, _ = catalog.validate_text(GOOD.replace(
        "    doi: 10.1109/CVPR.2016.90\n", "    doi: 10.1109/CVPR.2016.90\n    venue: CVPR 2016\n"
    ).replace("year: 2015\n    arxiv: \"1512", "year: 2016\n    arxiv: \"1512"))
    resnet, vgg, attention = (cat.by_id[i] for i in ("resnet", "vgg", "attention"))
    assert resnet.publication == "CVPR 2016 · arXiv 2015"      # not "CVPR 2016 · 2015"
    assert vgg.publication == "ICLR 2015 · arXiv 2014"
    assert attention.publication == "2017"                      # no venue, same-year preprint
    assert (resnet.venue_name, resnet.arxiv_year) == ("CVPR", 2015)


def test_shipped_catalog_has_no_venue_year_disagreement_and_no_reprint_doi():
    cat, problems = catalog.check(SHIPPED_CATALOG)
    assert cat is not None and problems == []
    assert cat.by_id["resnet"].year == 2016 and cat.by_id["vgg"].year == 2015
    assert cat.by_id["adam"].year == 2015 and cat.by_id["resnet"].arxiv_year == 2015
    assert cat.by_id["alexnet"].doi is None  # 10.1145/3065386 is the 2017 CACM reprint


@pytest.mark.parametrize(
    "text",
    [
        "topics: &t [{id: a, title: A}]\npapers: *t\n",
        "topics: !!python/object/apply:os.system ['echo hacked']\npapers: []\n",
        "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
    ],
    ids=["anchor-alias", "python-tag", "billion-laughs"],
)
def test_tags_and_aliases_are_refused(text):
    cat, problems = catalog.validate_text(text)
    assert cat is None
    assert any("not allowed" in p.message for p in problems)


def test_load_raises_catalog_error_listing_every_problem(tmp_path):
    path = tmp_path / "papers.yaml"
    path.write_text(GOOD.replace("venue:", "venu:").replace("year: 2017", "year: x"))
    with pytest.raises(CatalogError) as info:
        catalog.load(path)
    assert len(info.value.problems) == 2
    assert "and 1 more" in str(info.value)


def test_missing_and_non_utf8_files_get_one_line_errors(tmp_path):
    _, problems = catalog.check(tmp_path / "papers.yaml")
    assert "no catalog at" in problems[0].message
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"topics: [\xff\xfe]\n")
    _, problems = catalog.check(bad)
    assert "not UTF-8" in problems[0].message


# --- the shipped catalog -----------------------------------------------------------------------

SEVEN = {"alexnet", "resnet", "ssd", "transformer", "vit", "clip", "ganomaly"}


def test_shipped_catalog_is_valid_and_covers_the_course():
    cat = catalog.load(SHIPPED_CATALOG)
    assert len(cat) >= 45
    assert [t.id for t in cat.topics] == [
        "reading-papers", "cnns", "detection-segmentation", "embeddings", "gans",
        "anomaly-detection", "sequences", "nlp", "graphs", "transformers",
        "self-supervised-multimodal",
    ]
    assert all(cat.in_topic(t.id) for t in cat.topics), "every lecture has papers"
    from reproductions import REPRODUCTIONS

    # every registered module is linked from its own paper, and every link names a module
    assert {p.reproduction for p in cat.papers if p.reproduction} == {*REPRODUCTIONS, "workbench"}
    for name, module in REPRODUCTIONS.items():
        assert cat.by_id[module.PAPER].reproduction == name
        assert cat.by_id[module.PAPER].relation == "implements"
    assert SEVEN <= set(REPRODUCTIONS)
    assert "transformer" in cat.by_id["vit"].cites
    assert {"vit", "transformer"} <= set(cat.by_id["clip"].cites)


def test_shipped_catalog_matches_the_ground_truth_of_the_real_pdfs():
    """Titles and years of catalog papers that have a real PDF in ../shared/pdfs."""
    from tests.conftest import SHARED_PDFS

    truth_file = SHARED_PDFS / "ground_truth.yaml"
    if not truth_file.exists():
        pytest.skip(f"needs {truth_file} (the course's shared folder)")
    import yaml

    truth = yaml.safe_load(truth_file.read_text())["papers"]
    cat = catalog.load(SHIPPED_CATALOG)
    by_arxiv = {p.arxiv: p for p in cat.papers if p.arxiv}
    checked = 0
    for t in truth:
        paper = by_arxiv.get(t.get("arxiv_id")) if t.get("arxiv_id") else None
        if paper is None and t["file"] == "alexnet_nips2012.pdf":
            paper = cat.by_id["alexnet"]
        if paper is None:
            continue
        norm = lambda s: " ".join(s.lower().replace("-", " ").split())  # noqa: E731
        assert norm(paper.title) == norm(t["title"]), paper.id
        # the file is the arXiv version (its id carries its year) or, for AlexNet, the venue's
        assert (paper.arxiv_year or paper.year) == t["year"], paper.id
        assert paper.authors[0].split()[-1] == t["first_author_surname"], paper.id
        checked += 1
    assert checked >= 12


def test_cli_check_prints_one_line_ok_for_the_shipped_catalog():
    out = subprocess.run([sys.executable, "-m", "workbench", "check", str(SHIPPED_CATALOG)],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if not ln.startswith("papers.yaml:")]
    assert len(lines) == 1 and lines[0].startswith("OK: papers.yaml is valid:")
    n = len(catalog.load(SHIPPED_CATALOG))
    assert f"{n} papers" in lines[0] and n >= 45


def test_cli_check_lists_every_problem_and_exits_1(tmp_path):
    broken = tmp_path / "papers.yaml"
    broken.write_text(SHIPPED_CATALOG.read_text().replace("topic: cnns", "topic: cnn", 2))
    out = subprocess.run([sys.executable, "-m", "workbench", "check", str(broken)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("papers.yaml:")]
    assert len(errors) == 2 and all("unknown topic 'cnn'" in e for e in errors)
    assert "Traceback" not in out.stderr


# --- saving ------------------------------------------------------------------------------------

NEW_ENTRY = {
    "id": "densenet",
    "title": "Densely Connected Convolutional Networks",
    "authors": ["Gao Huang", "Zhuang Liu", "Laurens van der Maaten", "Kilian Q. Weinberger"],
    "year": 2016,
    "venue": "CVPR 2017",
    "arxiv": "1608.06993",
    "topic": "cnns",
    "tags": ["classification"],
    "cites": ["resnet"],
    "abstract": "Recent work has shown that convolutional networks can be substantially deeper.",
}


def test_append_paper_keeps_every_other_byte(tmp_path):
    path = tmp_path / "papers.yaml"
    path.write_text(GOOD)
    paper = append_paper(path, NEW_ENTRY)
    assert paper.id == "densenet" and paper.arxiv == "1608.06993"
    new = path.read_text()
    added = len(new.splitlines()) - len(GOOD.splitlines())
    # the new entry sits after the last CNN paper, before the Transformers heading
    before, after = GOOD.split("  # --- Transformers ---\n")
    assert new.startswith(before) and new.endswith("  # --- Transformers ---\n" + after)
    assert added == len(render_entry(NEW_ENTRY).splitlines())
    cat = catalog.load(path)
    assert [p.id for p in cat.papers] == ["vgg", "resnet", "densenet", "attention"]
    assert cat.by_id["densenet"].abstract == NEW_ENTRY["abstract"]


def test_append_paper_to_the_shipped_catalog_keeps_untouched_entries_identical(tmp_path):
    path = tmp_path / "papers.yaml"
    original = SHIPPED_CATALOG.read_text()
    path.write_text(original)
    entry = dict(NEW_ENTRY, id="densenet-copy", arxiv="1608.06994", title="A test entry")
    append_paper(path, entry)
    new = path.read_text()
    rendered = render_entry(entry)
    assert rendered in new
    assert new.replace(rendered, "", 1) == original


def test_append_paper_refuses_an_invalid_entry_and_leaves_the_file(tmp_path):
    path = tmp_path / "papers.yaml"
    path.write_text(GOOD)
    with pytest.raises(CatalogError, match="not in the catalog"):
        append_paper(path, dict(NEW_ENTRY, cites=["nope"]))
    with pytest.raises(CatalogError, match="already in the catalog"):
        append_paper(path, dict(NEW_ENTRY, id="vgg"))
    assert path.read_text() == GOOD


def test_catalog_pickles_for_the_app_cache():
    import pickle

    cat, _ = catalog.validate_text(GOOD)
    again = pickle.loads(pickle.dumps(cat))
    assert again == cat and again.by_id["resnet"] == cat.by_id["resnet"]


def test_added_abstract_stays_one_paragraph(tmp_path):
    path = tmp_path / "papers.yaml"
    path.write_text(GOOD)
    long = " ".join(["Residual learning eases the training of very deep networks."] * 8)
    append_paper(path, dict(NEW_ENTRY, abstract=long))
    assert catalog.load(path).by_id["densenet"].abstract == long
    assert max(len(line) for line in path.read_text().splitlines()) <= 100


@pytest.mark.parametrize("empty", ["papers: []\n", "papers:\n"])
def test_append_paper_to_an_empty_catalog(tmp_path, empty):
    path = tmp_path / "papers.yaml"
    head = "# my list\ntopics:\n  - id: cnns\n    title: CNNs\n"
    path.write_text(head + empty)
    append_paper(path, dict(NEW_ENTRY, cites=[]))
    assert path.read_text().startswith(head + "papers:\n  - id: densenet\n")
    assert [p.id for p in catalog.load(path).papers] == ["densenet"]


def test_atomic_write_keeps_a_readable_file_mode(tmp_path):
    from workbench.fileio import atomic_write_text

    target = tmp_path / "handout.md"
    atomic_write_text(target, "hello")
    assert target.stat().st_mode & 0o044  # group/others can read, as with a plain open()
    target.chmod(0o640)
    atomic_write_text(target, "again")
    assert target.stat().st_mode & 0o777 == 0o640
