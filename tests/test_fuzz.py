"""Fuzzing the parsers of user input: arbitrary input never escapes as an unhandled exception.

Every parser a user's text reaches (papers.yaml, a .bib file, a reference printed in a PDF, a
`--set key=value` override) either succeeds or raises a `WorkbenchError` subclass whose text is
one non-empty line. Hypothesis generates the input: arbitrary YAML documents and byte strings
for the catalog, BibTeX-shaped text for the importer, printed references, and override strings
aimed at the literal parser.

$FUZZ_EXAMPLES sets the number of examples per test (default 150; RELIABILITY.md records a
run with 1000).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbench.catalog import validate as catalog
from workbench.catalog.write import render_entry
from workbench.errors import WorkbenchError
from workbench.intake import bibtex_import
from workbench.pdf.refs import Reference, parse_reference
from workbench.workspace import Workspace

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
# The default run draws the same examples every time (a red CI is a regression, not luck);
# FUZZ_RANDOM=1 explores new ones (see the README), and what it finds becomes an @example.
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                derandomize=os.environ.get("FUZZ_RANDOM") != "1",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def assert_typed_one_line(exc: BaseException) -> None:
    """The contract for refused input: a WorkbenchError whose text is one non-empty line."""
    assert isinstance(exc, WorkbenchError), f"{type(exc).__name__}: {exc}"
    text = str(exc)
    assert text.strip(), f"{type(exc).__name__} with an empty message"
    assert "\n" not in text, f"multi-line message: {text!r}"


# --- strategies -----------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["cnns", "resnet", "1512.03385", "10.1109/x", "", "~"]))
yaml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=12) | st.sampled_from(catalog.PAPER_KEYS), inner, max_size=5),
    max_leaves=25)
paper_like = st.fixed_dictionaries(
    {"id": st.sampled_from(["resnet", "vgg", "Bad Id", "a" * 90, "x/../y"]) | st.text(max_size=10),
     "title": scalars, "authors": yaml_values, "year": scalars | st.integers(1800, 2100),
     "topic": st.sampled_from(["cnns", "nope"]) | scalars},
    optional={k: yaml_values for k in ("venue", "arxiv", "doi", "tags", "cites", "reproduction",
                                        "abstract", "pdf", "url", "colour")})
catalog_like = st.fixed_dictionaries(
    {"topics": st.lists(st.fixed_dictionaries({"id": st.sampled_from(["cnns", "Bad"]) | scalars,
                                               "title": scalars}), max_size=3) | yaml_values,
     "papers": st.lists(paper_like, max_size=4) | yaml_values},
    optional={"extra": yaml_values})
yaml_punctuation = st.text(alphabet=st.sampled_from(list("-:#&*!|>'\"[]{},?%@` \n\tabc01.")),
                           max_size=200)


def _dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


# --- the catalog loader ---------------------------------------------------------------------------


def _check_validation(text: str) -> None:
    cat, problems = catalog.validate_text(text)  # never raises: problems are returned
    errors = [p for p in problems if p.severity == "error"]
    assert (cat is None) == bool(errors)
    for p in problems:
        assert p.message.strip() and "\n" not in p.message, repr(p.message)
        assert p.line >= 1 and p.col >= 1
    if cat is not None:
        for paper in cat.papers:  # what loads is what the rest of the library relies on
            assert paper.id and paper.topic in {t.id for t in cat.topics}


@FUZZ
@given(doc=yaml_values | catalog_like)
@example({"topics": [], "papers": [{"id": "resnet", "cites": "\n"}]})  # a one-line hint
def test_catalog_validation_of_any_yaml_document_returns_problems_never_raises(doc):
    _check_validation(_dump(doc))


@FUZZ
@given(text=st.text(max_size=300) | yaml_punctuation)
@example("papers: [*a]")
@example("topics: !!python/object/apply:os.system ['true']")
@example("a: &x [1]\nb: *x")
@example("[" * 5000)
@example("\x00")
@example("\ud800")
def test_catalog_validation_of_any_text_returns_problems_never_raises(text):
    _check_validation(text)


@FUZZ
@given(data=st.binary(max_size=300) | yaml_punctuation.map(str.encode))
@example(b"\xff\xfe\x00")
@example("topics: []\npapers: []\n".encode("utf-16"))
def test_catalog_file_with_any_bytes_loads_or_raises_catalog_error(tmp_path, data):
    path = tmp_path / "papers.yaml"
    path.write_bytes(data)
    # an hour old: a file changed less than 0.5 s ago that fails to load is re-read once it
    # is quiet (an editor saving it); that wait is tested in test_catalog_writes, not here
    os.utime(path, (path.stat().st_atime - 3600, path.stat().st_mtime - 3600))
    cat, problems = catalog.check(path)
    assert cat is not None or problems
    try:
        catalog.load(path)
    except catalog.CatalogError as exc:
        assert_typed_one_line(exc)
        assert exc.problems


# --- the BibTeX importer --------------------------------------------------------------------------

bib_value = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
bib_field = st.tuples(
    st.sampled_from(["title", "author", "year", "date", "journal", "booktitle", "eprint",
                     "archiveprefix", "doi", "url", "keywords", "abstract", "note", "x"]),
    st.one_of(bib_value, st.sampled_from(["2015", "He, Kaiming and Zhang, Xiangyu", "1512.03385",
                                          "arXiv", "10.1109/CVPR.2016.90", "{\\'e}", "{{}",
                                          "\\", "}", "@", "\"", "#", "others"])),
    st.sampled_from(["{}", '""', "", "{{}}"]))


def _render_bib(entries) -> str:
    out = []
    for kind, key, fields in entries:
        body = ",\n".join(f"  {name} = {wrap[:len(wrap) // 2]}{value}{wrap[len(wrap) // 2:]}"
                          for name, value, wrap in fields)
        out.append(f"@{kind}{{{key},\n{body}\n}}")
    return "\n\n".join(out)


bib_text = st.lists(st.tuples(
    st.sampled_from(["article", "inproceedings", "misc", "string", "comment", "preamble", "x"]),
    st.text(alphabet="abcdefghij0123456789-_:,{}", max_size=12),
    st.lists(bib_field, max_size=6)), max_size=4).map(_render_bib)


SMALL_CATALOG = """\
topics:
  - id: cnns
    title: Convolutional networks
papers:
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
    year: 2015
    topic: cnns
    arxiv: "1512.03385"
    doi: 10.1109/CVPR.2016.90
  - id: vgg
    title: Very Deep Convolutional Networks for Large-Scale Image Recognition
    authors: [Karen Simonyan, Andrew Zisserman]
    year: 2014
    topic: cnns
"""


@pytest.fixture(scope="module")
def bib_workspace(tmp_path_factory):
    """A three-paper catalog: the importer loads it on every example, so it is kept small."""
    root = tmp_path_factory.mktemp("bibws")
    (root / "papers.yaml").write_text(SMALL_CATALOG, encoding="utf-8")
    return Workspace.resolve(root)


@FUZZ
@given(text=bib_text | st.text(max_size=300))
@example("@article{a, title={" + "{" * 3000 + "}")
@example("@article{x,\n title = {T},\n author = {and and and},\n year = {0000}}")
@example("@string{s = \"a\"}\n@misc{k, title = s # s # undefined}")
@example("@article{,\n  title = \u00b9\n}")  # a digit to str.isdigit, not to the number rule
def test_bibtex_import_plans_or_raises_bibtex_error(bib_workspace, text):
    try:
        plan = bibtex_import.plan_import(bib_workspace, text, topic="cnns")
    except WorkbenchError as exc:
        assert_typed_one_line(exc)
        return
    for entry in plan.new:  # every planned entry is one the catalog accepts
        assert render_entry(entry)
        assert entry["id"] and entry["title"] and entry["authors"]
    for _key, why in plan.skipped:
        assert why.strip()


@FUZZ
@given(data=st.binary(max_size=200))
def test_bib_file_with_any_bytes_reads_or_raises_bibtex_error(tmp_path, data):
    path = tmp_path / "refs.bib"
    path.write_bytes(data)
    try:
        bibtex_import.parse_bibtex(bibtex_import.read_bib_file(path))
    except WorkbenchError as exc:
        assert_typed_one_line(exc)


# --- the reference-string parser ------------------------------------------------------------------

reference_text = st.one_of(
    st.text(max_size=400),
    st.lists(st.sampled_from([
        "[12]", "12.", "K. He", "He, K.,", "and", "X. Zhang.", "Deep residual learning.",
        "“Quoted title,”", "(2016).", "2016.", "In CVPR,", "arXiv:1512.03385", "doi:10.1109/x",
        "https://example.org/p.pdf", "et al.", ":", "pp. 770–778", "(", ")", "\u00ad", "ﬁ", "\x00",
    ]), max_size=25).map(" ".join))


@FUZZ
@given(text=reference_text)
@example("(" * 10000)
@example("A. " * 2000 + "Title. 2020.")
def test_reference_parser_never_raises_and_keeps_fields_well_formed(text):
    ref = parse_reference(text)
    assert isinstance(ref, Reference)
    assert ref.year is None or 1900 <= ref.year <= 2099
    assert ref.title is None or len(ref.title) <= 400
    assert all(isinstance(a, str) and a for a in ref.authors)
    assert Reference.from_dict(ref.to_dict()) == ref


# --- `--set key=value` ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FuzzConfig:
    """Every annotation kind a reproduction's Config uses."""

    steps: int = 10
    lr: float = 1e-3
    amp: bool = False
    name: str = "x"
    limit: int | None = None
    widths: tuple[int, ...] = (4, 8)
    size: tuple[int, int] = (8, 8)
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.9, 0.99])
    norm: Literal["batch", "layer"] = "batch"


literal_like = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["{[]}", "{[1]: 2}", "{{}}", "-'a'", "(" * 300 + ")" * 300, "[" * 2000,
                     "1" * 5000, "'\x00'", "1e999", "set()", "b'x'", "1+2j", "...", "None",
                     "true", "(1,)", "[1, 'a']", "lambda: 0", "__import__('os')"]),
    st.recursive(st.integers() | st.floats() | st.text(max_size=5) | st.booleans() | st.none(),
                 lambda i: st.lists(i, max_size=3) | st.tuples(i, i), max_leaves=8).map(repr))
override_item = st.tuples(
    st.sampled_from([f.name for f in dataclasses.fields(FuzzConfig)] + ["stepz", "", " "]),
    st.sampled_from(["=", "", "=="]), literal_like).map("".join)


@FUZZ
@given(items=st.lists(override_item, min_size=1, max_size=3))
@example(["steps={[]}"])
@example(["widths={[1]: 2}"])
def test_set_overrides_apply_or_raise_config_error(items):
    from reproductions.common.config import apply_overrides

    try:
        cfg = apply_overrides(FuzzConfig(), items)
    except WorkbenchError as exc:
        assert_typed_one_line(exc)
        return
    # what is accepted has the annotated type
    assert isinstance(cfg.steps, int) and isinstance(cfg.lr, float)
    assert isinstance(cfg.widths, tuple) and len(cfg.size) == 2
    assert cfg.norm in ("batch", "layer")


@FUZZ
@given(item=override_item)
@example("steps={[]}")
def test_workbench_side_override_check_accepts_or_raises_override_error(item):
    """The app and `workbench repro` check overrides before launch from the annotation text
    `describe` prints (they must not import torch); it holds to the same contract."""
    from workbench.runs import overrides

    types_ = {"steps": "int", "lr": "float", "amp": "bool", "name": "str",
              "limit": "int | None", "widths": "tuple[int, ...]", "size": "tuple[int, int]",
              "betas": "list[float]", "norm": "Literal['batch', 'layer']"}
    try:
        key, text = overrides.split_override(item)
        tp = overrides.parse_type(types_[key]) if key in types_ else None
        if tp is None:
            return  # unknown keys are refused by Reproduction.field (tested in test_runs)
        overrides.parse_value(text, tp, key)
    except WorkbenchError as exc:
        assert_typed_one_line(exc)
