"""Untrusted PDFs (issue 16, items 5 and 6): a page tree that lies about its page count, a
200-inch page, a flate bomb and a text bomb (`tests/hostile_pdfs.py`) can neither crash a page
nor burn minutes. Each is one `PdfError` for its own paper, reached within the worker's time and
memory limits, and every other paper's PDF keeps working on every page and command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apptest_helpers import errors, open_page
from tests.hostile_pdfs import flate_bomb, huge_page, lying_page_count, text_bomb
from tests.pdf_fixtures import TITLE, make_paper
from workbench.catalog import validate as catalog
from workbench.errors import WorkbenchError
from workbench.pdf import document as pdf
from workbench.pdf import files as pdf_files
from workbench.pdf.extraction import MAX_MEGAPIXELS
from workbench.sessions import handout
from workbench.workspace import Workspace


@pytest.fixture
def ws(make_ws) -> Workspace:
    """tiny's PDF is a good paper citing alexnet and resnet; lying's and poster's are hostile."""
    return make_ws("hostile-pdfs", reader="alice", files={
        "pdfs/tiny.pdf": make_paper, "pdfs/lying.pdf": lying_page_count,
        "pdfs/poster.pdf": huge_page})


def _cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          input=stdin, env=dict(os.environ), timeout=120)


def _one_line(exc: WorkbenchError, file_name: str) -> str:
    message = str(exc)
    assert "\n" not in message and file_name in message
    return message


def _pixels(png: bytes) -> int:
    import pymupdf

    pix = pymupdf.Pixmap(png)
    return pix.width * pix.height


# --- item 5: every MuPDF failure is a PdfError -------------------------------------------------


@pytest.mark.parametrize("call", ["extract", "render_page", "open_pdf"])
def test_a_page_tree_claiming_a_million_pages_is_a_corrupt_pdf_error(tmp_path, call):
    path = lying_page_count(tmp_path / "lying.pdf")
    args = {"extract": (), "render_page": (1,), "open_pdf": ()}[call]
    with pytest.raises(pdf.CorruptPdf) as info:
        getattr(pdf, call)(path, *args)
    assert "damaged" in _one_line(info.value, "lying.pdf")


def test_cli_reports_a_lying_pdf_in_one_line(tmp_path):
    path = lying_page_count(tmp_path / "lying.pdf")
    out = _cli("-m", "workbench", "pdf", str(path), "--no-cache", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.startswith("error: lying.pdf is damaged") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


def test_a_200_inch_page_renders_scaled_down_instead_of_failing(tmp_path):
    path = huge_page(tmp_path / "poster.pdf")
    png = pdf.render_page(path, 1)  # 110 dpi would be 22,000 x 22,000: "overly large image"
    assert 0.5 * MAX_MEGAPIXELS * 1e6 < _pixels(png) <= MAX_MEGAPIXELS * 1e6
    figure = pdf.extract(path).figures[0]
    assert figure.caption.startswith("Figure 1:") and _pixels(figure.png) <= MAX_MEGAPIXELS * 1e6


def test_a_refused_upload_leaves_pdfs_as_it_was(ws):
    before = {p.name: p.read_bytes() for p in ws.pdfs_dir.iterdir()}
    lying = (ws.pdfs_dir / "lying.pdf").read_bytes()
    for paper_id in ("tiny", "alexnet"):  # replacing a good PDF, and a paper without one
        with pytest.raises(pdf.CorruptPdf) as info:
            pdf_files.save_upload(lying, ws, paper_id)
        assert "damaged" in _one_line(info.value, f"{paper_id}.pdf")
    assert {p.name: p.read_bytes() for p in ws.pdfs_dir.iterdir()} == before


def test_an_upload_that_extracts_is_kept_and_its_extraction_cached(ws):
    good = (ws.pdfs_dir / "tiny.pdf").read_bytes()
    assert pdf_files.save_upload(good, ws, "alexnet").read_bytes() == good
    assert len(list(pdf.pdf_cache_dir(ws).glob("*.json"))) == 1


# --- item 5: one bad PDF is reported for its paper and skipped everywhere else -----------------


def test_graph_stats_reports_the_bad_pdf_and_keeps_the_good_ones_edges(ws):
    out = _cli("-m", "workbench", "graph", "stats", cwd=ws.root)
    assert out.returncode == 0, out.stderr
    assert "pdf 2)" in out.stdout  # tiny's references to alexnet and resnet
    assert "paper lying: lying.pdf is damaged" in out.stderr
    assert "Traceback" not in out.stderr


def test_handout_gives_the_bad_paper_no_figures_and_the_others_theirs(ws):
    cat = catalog.load(ws.catalog_path)
    h = handout.build_handout(ws, cat, ["lying", "tiny", "poster"], "Hostile week")
    lying, tiny, poster = h.papers
    assert not lying.figures and "lying.pdf is damaged" in lying.missing["figures"]
    assert [f.label for f in tiny.figures] == ["Figure 1"]
    assert [f.label for f in poster.figures] == ["Figure 1"]
    assert _pixels(poster.figures[0].png) <= MAX_MEGAPIXELS * 1e6


def test_paper_page_of_a_lying_pdf_is_one_error_box(ws):
    at = open_page("paper.py", paper="lying")  # fails on an exception
    assert [m for m in errors(at) if "lying.pdf is damaged" in m] == errors(at) != []


def test_paper_page_of_a_200_inch_page_shows_it(ws):
    at = open_page("paper.py", paper="poster")
    assert not errors(at) and len(at.get("image")) == 1


def test_read_page_of_a_lying_pdf_says_why_there_is_no_material(ws):
    at = open_page("read.py", paper="lying")
    assert any("lying.pdf is damaged" in i.value for i in at.info)


def test_graph_page_builds_with_a_lying_pdf_in_the_workspace(ws):
    at = open_page("graph.py", paper="tiny")
    assert not errors(at)


# --- item 6: time and memory limits ------------------------------------------------------------


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """3 MB of PDF, 1 GB of drawing commands: minutes of MuPDF time in one process."""
    return flate_bomb(tmp_path_factory.mktemp("bomb") / "bomb.pdf", mb=1000)


def _children() -> set[int]:
    """Process ids of this process's children (idle PDF workers, say)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == os.getpid():
            out.add(int(stat.parent.name))
    return out


def test_flate_bomb_extraction_is_stopped_at_its_deadline(bomb, tmp_path):
    before = _children()  # idle workers
    with pytest.raises(pdf.PdfTimeout) as info:
        pdf.extract(bomb, deadline_s=1)  # was: checked between pages only, so never
    assert "reading it took over 1 s" in _one_line(info.value, "bomb.pdf")
    if Path("/proc/self/stat").exists():
        assert _children() <= before  # the worker was killed and reaped, not left running


def test_flate_bomb_page_render_is_stopped_at_its_deadline(bomb):
    with pytest.raises(pdf.PdfTimeout) as info:
        pdf.render_page(bomb, 1, deadline_s=1)
    assert "rendering page 1 took over 1 s" in _one_line(info.value, "bomb.pdf")


def test_text_bomb_is_stopped_at_the_memory_limit(tmp_path):
    path = text_bomb(tmp_path / "text.pdf")  # 100 MB of text: 6 GB of characters extracted
    with pytest.raises(pdf.PdfMemoryExceeded) as info:
        pdf.extract(path, memory_mb=200, deadline_s=60)
    assert "needs more than 200 MB" in _one_line(info.value, "text.pdf")


def test_a_pdf_over_the_limits_costs_them_once_per_file(bomb, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(pdf.PdfTimeout):
        pdf.extract(bomb, cache_dir=cache, deadline_s=1)
    with pytest.raises(pdf.PdfTimeout, match="remembered from an earlier try"):
        pdf.extract(bomb, cache_dir=cache, deadline_s=1)
    assert [p.name.endswith(".failed.json") for p in cache.iterdir()] == [True]


def test_pdf_workers_run_under_any_main_script(tmp_path):
    """A worker must not need the caller's main script (multiprocessing re-runs it in each
    child; a script read from stdin, or a notebook, has none to re-run)."""
    paper = make_paper(tmp_path / "paper.pdf")
    script = f"from workbench import pdf\nprint(pdf.extract({str(paper)!r}).title)\n"
    out = _cli("-", cwd=tmp_path, stdin=script)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == TITLE
