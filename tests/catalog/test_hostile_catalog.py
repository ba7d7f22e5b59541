"""Hostile and unlucky catalogs (issue 16, items 4, 7 and 15): every value `check` accepts is one
later code can use, and every problem is one located line, never an exception.

The bad values are generated below, so CI keeps trying all of them.
"""

from __future__ import annotations

import tracemalloc

import pytest

from tests.conftest import SHIPPED_CATALOG
from workbench.catalog import validate as catalog
from workbench.cli.commands import main

# dates that do not exist, in every form YAML reads as a date
BAD_DATES = ["2015-02-29", "2023-13-01", "2023-00-10", "2023-04-31",
             "2025-01-01T23:59:60", "2025-02-29T10:00:00", "2025-01-01T10:00:00+25:00",
             "2025-01-01 24:00:00"]


def with_line(old: str, new: str) -> str:
    text = SHIPPED_CATALOG.read_text("utf-8")
    assert old in text
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


@pytest.mark.parametrize("bad", BAD_DATES)
def test_a_date_that_does_not_exist_is_a_located_problem(bad):
    text = with_line("    year: 2015\n", f"    year: {bad}\n")
    cat, problems = catalog.validate_text(text)
    errors = [p for p in problems if p.severity == "error"]
    assert cat is None and len(errors) == 1
    assert errors[0].line == line_of(text, f"year: {bad}")
    assert "not a real date" in errors[0].message and "\n" not in str(errors[0])


@pytest.mark.parametrize("argv", [["check"], ["graph", "stats"], ["status"],
                                  ["handout", "resnet"], ["bib", "export"]])
def test_a_bad_date_in_the_catalog_is_one_line_from_every_command(workspace, argv, capsys):
    text = with_line("    year: 2015\n", "    year: 2015-02-29\n")
    workspace.catalog_path.write_text(text, encoding="utf-8")
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc != 0 and "Traceback" not in err
    assert f"papers.yaml:{line_of(text, 'year: 2015-02-29')}:" in err
    assert "not a real date" in err


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("pdf", '"pdfs/x\\0.pdf"', "control character"),
    ("pdf", '"' + "a" * 5_000 + '.pdf"', "at most 500"),
    ("pdf", "/etc/passwd", "inside the workspace"),
    ("pdf", "../../outside.pdf", "inside the workspace"),
    ("pdf", "file:///etc/passwd", "inside the workspace"),
    ("url", '"javascript:alert(document.domain)"', "http:// or https://"),
    ("url", '"data:text/html,<script>alert(1)</script>"', "http:// or https://"),
    ("url", '"https://x.org/' + "a" * 3_000 + '"', "at most 2,000"),
    ("title", '"A title\\u001b[31m red"', "control character"),
    ("title", '"' + "T" * 600 + '"', "at most 500"),
    ("venue", '"CVPR\\u0000"', "control character"),
    ("authors", "[" + ", ".join(["A B"] * 3_001) + "]", "at most 3000"),
    ("authors", '["Kaiming\\nHe"]', "control character"),
    ("tags", '["' + "t" * 200 + '"]', "at most 100"),
])
def test_check_rejects_what_later_code_cannot_use(field, value, expected):
    fields = {"id": "hostile", "title": "Hostile", "authors": "[A B]", "year": "2020",
              "topic": "cnns", field: value}
    entry = "  - " + "\n    ".join(f"{k}: {v}" for k, v in fields.items()) + "\n"
    text = SHIPPED_CATALOG.read_text("utf-8") + entry
    cat, problems = catalog.validate_text(text)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert cat is None, f"{field}: {value[:40]} was accepted"
    assert len(errors) >= 1 and expected in errors[0], errors
    assert all("\n" not in e and len(e) < 400 for e in errors), errors


def test_good_urls_and_pdf_paths_are_still_accepted():
    text = with_line("    topic: cnns\n", "    topic: cnns\n    url: https://example.org/x?a=1\n"
                     "    pdf: pdfs/some-paper.pdf\n")
    cat, problems = catalog.validate_text(text)
    assert cat is not None, [str(p) for p in problems]


def test_an_escape_character_is_reported_at_its_real_line():
    text = with_line("    year: 2015\n", "    year: 2015\n    venue: CVPR\x1b 2016\n")
    _, problems = catalog.validate_text(text)
    errors = [p for p in problems if p.severity == "error"]
    assert errors and errors[0].line == line_of(text, "\x1b") and errors[0].line > 1
    assert "'\\x1b'" in errors[0].message


def test_a_50_mb_catalog_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "papers.yaml"
    with open(path, "wb") as fh:  # sparse: costs no disk
        fh.truncate(50_000_000)
    tracemalloc.start()
    cat, problems = catalog.check(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert cat is None and "50 MB, larger than 20 MB" in problems[0].message
    assert peak < 5_000_000, f"{peak / 1e6:.0f} MB allocated to refuse it"


@pytest.mark.parametrize("yaml_text", [
    "topics: []\npapers: []\n---\ntopics: []\n",                 # a second document
    "topics:\n  - id: a\n    title: A\n    title: B\npapers: []\n",  # duplicate key
    "topics: [{id: a, title: A}]\npapers:\n  - {id: x, title: X, authors: [A], year: 2020, "
    "topic: a, [1]: 2}\n",                                     # a list as a key
])
def test_odd_yaml_is_a_problem_not_a_crash(yaml_text):
    cat, problems = catalog.validate_text(yaml_text)
    assert cat is None and problems and all("\n" not in str(p) for p in problems)
