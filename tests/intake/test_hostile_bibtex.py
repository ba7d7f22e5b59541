"""A .bib file from the wild: one bad entry costs only itself, macro bombs are refused, and a
whole Zotero library goes in at once (issue 16, items 11-13). The files come from
`tests/hostile_bib.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.hostile_bib import (
    BAD_ENTRIES,
    catalog_yaml,
    library_bib,
    macro_bomb,
    macro_fanout,
    semicolon_entry,
)
from tests.workspaces import make_workspace
from workbench.catalog import bibtex
from workbench.catalog import validate as catalog
from workbench.intake import bibtex_import


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def with_bad_entries(n: int) -> str:
    """`n` good library entries, with `semicolon_entry` and every `BAD_ENTRIES` among them."""
    good = library_bib(n).split("\n@")
    bad = [semicolon_entry()] + [text for text, _ in BAD_ENTRIES.values()]
    step = max(1, len(good) // (len(bad) + 1))
    for i, entry in enumerate(bad):
        good.insert(step * (i + 1) + i, entry.removeprefix("@"))
    return "\n@".join(good)


# --- item 11: a bad entry is skipped and named, the rest imported ---------------------------------


def test_an_entry_with_a_latex_thin_space_is_imported_with_the_rest(tmp_path):
    ws = make_workspace(tmp_path / "ws", catalog_yaml(0))
    text = library_bib(10) + "\n" + semicolon_entry() + "\n" + library_bib(20)[-3000:]
    plan = bibtex_import.plan_import(ws, text, "cnns", "zotero.bib")
    assert plan.skipped == ()
    assert "Bounds for $n \\log n$ Sorting" in [e["title"] for e in plan.new]


def test_each_unreadable_entry_is_skipped_by_key_and_line_and_the_rest_imported(tmp_path):
    ws = make_workspace(tmp_path / "ws", catalog_yaml(3))
    text = with_bad_entries(30)
    plan = bibtex_import.plan_import(ws, text, "cnns", "zotero.bib")
    assert dict(plan.skipped) == {
        f"{key} (line {line_of(text, entry.partition(',')[0])})": f"unreadable entry: {why}"
        for key, (entry, why) in BAD_ENTRIES.items()}
    assert len(plan.new) == 31  # the 30 good ones and the thin-space one
    result = bibtex_import.apply_import(ws, plan)
    assert len(result.added) == 31 and result.skipped == plan.skipped
    assert len(catalog.load(ws.catalog_path)) == 3 + 31


def test_a_3725_entry_library_is_read_whole_but_its_bad_entries(tmp_path):
    """The size of a real 3.5 MB Better BibTeX library that used to be refused whole."""
    ws = make_workspace(tmp_path / "ws", catalog_yaml(0))
    text = with_bad_entries(3725)
    plan = bibtex_import.plan_import(ws, text, "cnns", "my-library.bib")
    assert len(plan.new) == 3726
    assert sorted(where.split()[0] for where, _ in plan.skipped) == sorted(BAD_ENTRIES)
    assert plan.lines()[0] == "my-library.bib: 3726 to add, 4 skipped"


def test_deeply_nested_braces_are_read_without_recursion(tmp_path):
    ws = make_workspace(tmp_path / "ws", catalog_yaml(0))
    deep = "{" * 5000 + "Deep" + "}" * 5000
    text = (f"@misc{{deep, title = {deep}, author = {{Doe, Jane}}, year = 2020}}\n"
            "@misc{flat, title = {Flat}, author = {Roe, Richard}, year = 2021}\n")
    plan = bibtex_import.plan_import(ws, text, "cnns")
    assert [e["title"] for e in plan.new] == ["Deep", "Flat"]


# --- item 12: macro bombs are refused with one line -----------------------------------------------

CAPPED_CLI = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1_000_000_000, 1_000_000_000))
from workbench.cli.commands import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("bomb", [macro_bomb(40), macro_fanout(120)], ids=["doubling", "fanout"])
def test_a_macro_bomb_is_refused_with_one_line_in_a_process_capped_at_1_gb(tmp_path, bomb):
    ws = make_workspace(tmp_path / "ws", catalog_yaml(2))
    before = ws.catalog_path.read_bytes()
    bib = tmp_path / "bomb.bib"
    bib.write_text(bomb, encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", CAPPED_CLI, "--workspace", str(ws.root), "bib",
                          "import", str(bib), "--topic", "cnns", "--yes"],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 1, out.stderr[-500:]
    assert out.stderr.startswith("error: bomb.bib line ") and out.stderr.count("\n") == 1
    assert "(a macro bomb?); the file is refused" in out.stderr
    assert ws.catalog_path.read_bytes() == before


def test_macros_within_the_caps_are_expanded(tmp_path):
    ws = make_workspace(tmp_path / "ws", catalog_yaml(0))
    text = ('@string{pre = "Proceedings of the "}\n@string{cvpr = pre # "{IEEE} CVPR"}\n'
            "@inproceedings{a, title = {T}, author = {Doe, Jane}, year = 2020, booktitle = cvpr,"
            " month = jun}\n")
    (entry,) = bibtex_import.plan_import(ws, text, "cnns").new
    assert entry["venue"] == "Proceedings of the IEEE CVPR"


# --- item 13: a whole library into a large catalog, in one write ----------------------------------


@pytest.mark.parametrize("entries, papers", [
    (300, 2000), pytest.param(4000, 20000, marks=pytest.mark.slow)])
def test_a_large_library_goes_into_a_large_catalog_whole_in_one_write(tmp_path, monkeypatch,
                                                                      entries, papers):
    ws = make_workspace(tmp_path / "ws", catalog_yaml(papers))
    plan = bibtex_import.plan_import(ws, library_bib(entries), "cnns", "library.bib")
    replaced, replace = [], os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (replaced.append(Path(dst)),
                                                         replace(src, dst)))
    result = bibtex_import.apply_import(ws, plan)
    assert replaced.count(ws.catalog_path) == 1  # not once per entry (minutes, then hours)
    assert len(result.added) == entries and result.skipped == ()
    after = catalog.load(ws.catalog_path)
    assert len(after) == papers + entries
    assert {f"paper-{i}" for i in range(papers)} <= set(after.by_id)  # none lost
    again = bibtex_import.plan_import(ws, bibtex.export_bibtex(after, [p.id for p in
                                                                       result.added]), "cnns")
    assert again.new == ()  # what went in comes back out as the same papers


# --- the CLI and the app name what they skip ------------------------------------------------------


def test_cli_import_names_skipped_entries_by_key_and_line(tmp_path, capsys):
    from workbench.cli.commands import main

    ws = make_workspace(tmp_path / "ws", catalog_yaml(0))
    bib = tmp_path / "zotero.bib"
    text = with_bad_entries(5)
    bib.write_text(text, encoding="utf-8")
    assert main(["--workspace", str(ws.root), "bib", "import", str(bib), "--topic", "cnns",
                 "--yes"]) == 0
    out = capsys.readouterr().out
    assert "zotero.bib: 6 to add, 4 skipped" in out and "added 6 paper(s)" in out
    line = line_of(text, "@article{nocomma")
    assert (f"  - nocomma (line {line}): unreadable entry: expected ',' or '}}' but found 'a'"
            in out)


def test_add_page_imports_a_bib_upload_and_names_skipped_entries(tmp_path, monkeypatch):
    from tests.apptest_helpers import click, errors, open_page

    ws = make_workspace(tmp_path / "ws", catalog_yaml(2), monkeypatch=monkeypatch)
    text = with_bad_entries(5)
    at = open_page("add.py")
    at.file_uploader(key="bib_upload").upload("zotero.bib", text.encode(), "text/x-bibtex").run()
    assert not at.exception and not errors(at)
    warning = "\n".join(w.value for w in at.warning)
    assert (f"undefined (line {line_of(text, '@article{undefined')}): unreadable entry: it "
            "uses \\@string") in warning
    click(at, "bib_import")
    assert any("Added 6 paper(s)" in s.value for s in at.success)
    assert len(catalog.load(ws.catalog_path)) == 2 + 6
