"""workbench.pdf.document on PDFs generated here: extraction, the cache, every bad-input kind, finding,
uploading and downloading PDFs (downloads from a local HTTP server), the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_services import FakeServices, Fault, closed_port_url
from tests.pdf_fixtures import (
    ABSTRACT,
    AUTHORS,
    CAPTION,
    FIGURE_BOX,
    HEADINGS,
    TITLE,
    make_blank,
    make_paper,
)
from workbench.errors import InvalidId, WorkbenchError
from workbench.pdf import document as pdf
from workbench.pdf import files as pdf_files
from workbench.pdf.structure import EXTRACTOR_VERSION, PaperStructure
from workbench.sources import SourceConfigError


@pytest.fixture(scope="module")
def paper_pdf(tmp_path_factory) -> Path:
    return make_paper(tmp_path_factory.mktemp("gen") / "tiny.pdf")


@pytest.fixture(scope="module")
def structure(paper_pdf) -> PaperStructure:
    return pdf.extract(paper_pdf)


# --- extraction ---------------------------------------------------------------------------------


def test_extract_finds_title_author_line_and_abstract(structure):
    assert structure.title == TITLE
    assert structure.authors == AUTHORS
    assert structure.abstract == ABSTRACT
    assert structure.page_count == 2


def test_extract_lists_level1_headings_in_order_and_numbered_subsections(structure):
    assert structure.headings == HEADINGS
    level2 = [(s.title, s.level, s.page) for s in structure.sections if s.level == 2]
    assert level2 == [("2.1 Details", 2, 1)]
    assert [s.number for s in structure.sections] == ["1", "2", "2.1", "3", None]


def test_unnumbered_headings_are_found_by_their_size(tmp_path):
    s = pdf.extract(make_paper(tmp_path / "plain.pdf", numbered=False))
    assert s.headings == ["Introduction", "Method", "Conclusion", "References"]
    assert (s.title, s.abstract) == (TITLE, ABSTRACT)
    assert s.conclusion_heading == "Conclusion" and len(s.references) == 3


def test_extract_gives_introduction_and_conclusion_text(structure):
    assert structure.introduction.startswith("Introductions say why a problem matters.")
    assert "2 Method" not in structure.introduction
    assert structure.conclusion_heading == "3 Conclusion"
    assert structure.conclusion.startswith("A single skip connection is enough")
    assert "Krizhevsky" not in structure.conclusion  # the reference list is not the conclusion


def test_extract_finds_vector_figure_with_caption_and_png_crop(structure):
    assert len(structure.figures) == 1
    fig = structure.figures[0]
    assert (fig.kind, fig.number, fig.label, fig.page) == ("figure", "1", "Figure 1", 2)
    assert fig.caption == CAPTION
    x0, y0, x1, y1 = fig.bbox
    fx0, fy0, fx1, fy1 = FIGURE_BOX
    assert x0 <= fx0 and y0 <= fy0 and x1 >= fx1 and y1 >= fy1  # the whole drawing
    assert y1 < fy1 + 10 and x0 > fx0 - 10  # and not the caption or the page
    assert fig.png.startswith(b"\x89PNG\r\n\x1a\n")


def test_extract_parses_references_with_arxiv_id_and_doi(structure):
    refs = structure.references
    assert [r.label for r in refs] == ["1", "2", "3"]
    assert refs[0].title == "ImageNet classification with deep convolutional neural networks"
    assert refs[0].authors == ("A. Krizhevsky", "I. Sutskever", "G. E. Hinton")
    assert (refs[0].year, refs[0].venue) == (2012, "NIPS")
    assert refs[1].arxiv_id == "1512.03385"
    assert refs[2].doi == "10.1109/5.726791"
    assert refs[2].year == 1998


def test_render_false_skips_crops_but_keeps_boxes(paper_pdf):
    fig = pdf.extract(paper_pdf, render=False).figures[0]
    assert fig.png == b"" and fig.bbox is not None


def test_structure_round_trips_through_dict(structure):
    again = PaperStructure.from_dict(json.loads(json.dumps(structure.to_dict())),
                                         [f.png for f in structure.figures])
    assert again == structure


# --- cache ------------------------------------------------------------------------------------------


def test_cache_stores_json_and_png_by_sha256(paper_pdf, tmp_path):
    s = pdf.extract(paper_pdf, cache_dir=tmp_path)
    assert (tmp_path / f"{s.sha256}.json").is_file()
    pngs = list((tmp_path / s.sha256).glob("*.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes() == s.figures[0].png


def test_cache_hit_returns_the_stored_result_without_parsing_again(paper_pdf, tmp_path):
    first = pdf.extract(paper_pdf, cache_dir=tmp_path)
    entry = tmp_path / f"{first.sha256}.json"
    data = json.loads(entry.read_text())
    data["title"] = "Marked in the cache"
    entry.write_text(json.dumps(data))
    second = pdf.extract(paper_pdf, cache_dir=tmp_path)
    assert second.title == "Marked in the cache"
    assert second.figures[0].png == first.figures[0].png


def test_cache_is_keyed_by_content_not_file_name(paper_pdf, tmp_path):
    pdf.extract(paper_pdf, cache_dir=tmp_path / "c")
    copy = tmp_path / "renamed.pdf"
    copy.write_bytes(paper_pdf.read_bytes())
    pdf.extract(copy, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.json"))) == 1


def test_cache_entry_of_an_older_extractor_is_ignored(paper_pdf, tmp_path):
    first = pdf.extract(paper_pdf, cache_dir=tmp_path)
    entry = tmp_path / f"{first.sha256}.json"
    data = json.loads(entry.read_text())
    data["version"] = EXTRACTOR_VERSION - 1
    data["title"] = "stale"
    entry.write_text(json.dumps(data))
    assert pdf.extract(paper_pdf, cache_dir=tmp_path).title == TITLE


def test_unreadable_cache_entry_is_rebuilt(paper_pdf, tmp_path):
    first = pdf.extract(paper_pdf, cache_dir=tmp_path)
    (tmp_path / f"{first.sha256}.json").write_text("{not json")
    assert pdf.extract(paper_pdf, cache_dir=tmp_path).title == TITLE


# --- bad input ----------------------------------------------------------------------------------------


def _html(path: Path) -> Path:
    path.write_text("<!DOCTYPE html><html><head><title>arXiv</title></head><body>Just a moment"
                    "...</body></html>")
    return path


def _garbage(path: Path) -> Path:
    rng = random.Random(4)
    path.write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    return path


def _header_then_garbage(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.5\n" + bytes(range(256)) * 20)
    return path


def _truncated(path: Path) -> Path:
    data = make_paper(path.with_suffix(".full.pdf")).read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _encrypted(path: Path) -> Path:
    import pymupdf

    doc = pymupdf.open(make_paper(path.with_suffix(".plain.pdf")))
    doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    return path


def _too_large(path: Path) -> Path:
    with open(path, "wb") as fh:  # a sparse 50 MB file: cheap to make, never parsed
        fh.write(b"%PDF-1.7\n")
        fh.truncate(50 * 2**20)
    return path


BAD_INPUTS = {
    "empty": (lambda p: (p.write_bytes(b""), p)[1], pdf.EmptyPdf, "empty"),
    "whitespace only": (lambda p: (p.write_bytes(b"\n \n"), p)[1], pdf.EmptyPdf, "empty"),
    "random bytes": (_garbage, pdf.NotAPdf, "not a PDF"),
    "pdf header then garbage": (_header_then_garbage, pdf.CorruptPdf, "damaged"),
    "truncated download": (_truncated, pdf.TruncatedPdf, "truncated"),
    "password protected": (_encrypted, pdf.EncryptedPdf, "password"),
    "html saved as pdf": (_html, pdf.NotAPdf, "HTML"),
    "500 pages": (lambda p: make_blank(p, 500), pdf.TooManyPages, "500 pages"),
    "50 MB": (_too_large, pdf.PdfTooLarge, "50.0 MB"),
    "missing file": (lambda p: p, pdf.PdfNotFound, "no PDF"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_raises_its_own_one_line_error(kind, tmp_path):
    make, error, words = BAD_INPUTS[kind]
    path = make(tmp_path / "paper.pdf")
    with pytest.raises(error) as info:
        pdf.extract(path, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert isinstance(info.value, WorkbenchError)
    assert "\n" not in message and words in message and "paper.pdf" in message
    assert not (tmp_path / "cache").exists()  # nothing cached for a bad file


def test_page_limit_and_size_limit_are_parameters(paper_pdf):
    with pytest.raises(pdf.TooManyPages):
        pdf.extract(paper_pdf, max_pages=1)
    with pytest.raises(pdf.PdfTooLarge):
        pdf.extract(paper_pdf, max_bytes=1000)


def test_extraction_stops_at_its_deadline(paper_pdf):
    with pytest.raises(pdf.PdfTimeout, match="took over"):
        pdf.extract(paper_pdf, deadline_s=0)


def test_encrypted_pdf_with_empty_user_password_is_read(paper_pdf, tmp_path):
    import pymupdf

    path = tmp_path / "restricted.pdf"
    pymupdf.open(paper_pdf).save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner",
                                 permissions=pymupdf.PDF_PERM_PRINT)
    assert pdf.extract(path).title == TITLE


# --- pages --------------------------------------------------------------------------------------------


def test_render_page_returns_png_and_caches_it(paper_pdf, tmp_path):
    png = pdf.render_page(paper_pdf, 2, dpi=50, cache_dir=tmp_path)
    assert png.startswith(b"\x89PNG")
    assert list(tmp_path.glob("*/page-2-50.png"))
    with pytest.raises(pdf.PdfError, match="has 2 pages; page 3 does not exist"):
        pdf.render_page(paper_pdf, 3)


# --- finding, uploading, downloading ------------------------------------------------------------------


class _Paper:
    def __init__(self, id, arxiv=None, pdf=None):
        self.id, self.arxiv, self.pdf = id, arxiv, pdf


def test_pdf_for_paper_prefers_the_catalog_path_then_arxiv_then_id(tmp_path, paper_pdf):
    from workbench.workspace import Workspace

    ws = Workspace.resolve(tmp_path)
    assert pdf.pdf_for_paper(ws, _Paper("resnet", arxiv="1512.03385v2")) is None
    by_id = tmp_path / "pdfs" / "resnet.pdf"
    by_id.parent.mkdir()
    by_id.write_bytes(paper_pdf.read_bytes())
    assert pdf.pdf_for_paper(ws, _Paper("resnet", arxiv="1512.03385v2")) == by_id
    by_arxiv = tmp_path / "pdfs" / "1512.03385.pdf"
    by_arxiv.write_bytes(paper_pdf.read_bytes())
    assert pdf.pdf_for_paper(ws, _Paper("resnet", arxiv="1512.03385v2")) == by_arxiv
    mine = tmp_path / "papers" / "he2016.pdf"
    mine.parent.mkdir()
    mine.write_bytes(paper_pdf.read_bytes())
    assert pdf.pdf_for_paper(ws, _Paper("resnet", arxiv="1512.03385", pdf="papers/he2016.pdf")) == mine


def test_pdf_path_outside_the_workspace_is_refused(tmp_path):
    from workbench.workspace import Workspace

    ws = Workspace.resolve(tmp_path / "ws")
    with pytest.raises(pdf.PdfError, match="outside the workspace"):
        pdf.pdf_for_paper(ws, _Paper("x", pdf="../../etc/passwd"))


def test_arxiv_file_name_handles_versions_old_ids_and_junk():
    assert pdf.arxiv_file_name("1706.03762v5") == "1706.03762.pdf"
    assert pdf.arxiv_file_name("hep-th/9901001") == "hep-th_9901001.pdf"
    with pytest.raises(pdf.PdfError, match="not an arXiv id"):
        pdf.arxiv_file_name("../../x")


def test_save_upload_stores_a_pdf_under_the_paper_id(tmp_path, paper_pdf):
    from workbench.workspace import Workspace

    ws = Workspace.resolve(tmp_path)
    path = pdf_files.save_upload(paper_pdf.read_bytes(), ws, "tiny")
    assert path == tmp_path / "pdfs" / "tiny.pdf"
    assert pdf.extract(path).title == TITLE


@pytest.mark.parametrize("data, error", [
    (b"<html><body>login required</body></html>", pdf.NotAPdf),
    (b"", pdf.EmptyPdf),
    (b"%PDF-1.4\n" + b"\x00garbage" * 100, pdf.CorruptPdf),
])
def test_save_upload_refuses_non_pdfs_and_keeps_no_file(tmp_path, data, error):
    from workbench.workspace import Workspace

    ws = Workspace.resolve(tmp_path)
    with pytest.raises(error):
        pdf_files.save_upload(data, ws, "tiny")
    assert not (tmp_path / "pdfs" / "tiny.pdf").exists()


def test_save_upload_checks_size_and_paper_id(tmp_path, paper_pdf):
    from workbench.workspace import Workspace

    ws = Workspace.resolve(tmp_path)
    with pytest.raises(pdf.PdfTooLarge, match="limit"):
        pdf_files.save_upload(paper_pdf.read_bytes(), ws, "tiny", max_bytes=100)
    with pytest.raises(InvalidId):
        pdf_files.save_upload(paper_pdf.read_bytes(), ws, "../evil")


def test_download_writes_the_pdf_atomically(tmp_path, paper_pdf):
    data = paper_pdf.read_bytes()
    with FakeServices() as fake:
        fake.add("GET", "/pdf/1512.03385", body=data, content_type="application/pdf")
        path = pdf_files.download_arxiv_pdf("1512.03385v1", tmp_path / "pdfs", base_url=fake.pdf_url,
                                      timeout=5)
    assert path == tmp_path / "pdfs" / "1512.03385.pdf" and path.read_bytes() == data
    assert [p.name for p in path.parent.iterdir()] == ["1512.03385.pdf"]  # no temp file left


def test_download_skips_a_file_that_is_already_there(tmp_path, paper_pdf):
    dest = tmp_path / "1512.03385.pdf"
    dest.write_bytes(paper_pdf.read_bytes())
    with FakeServices() as fake:
        assert pdf_files.download_arxiv_pdf("1512.03385", tmp_path, base_url=fake.pdf_url) == dest
        assert fake.requests == []


@pytest.mark.parametrize("status, body, ctype, error, words", [
    (200, b"<html>captcha</html>", "text/html", pdf.PdfDownloadError, "text/html instead of a PDF"),
    (200, b"<html>captcha</html>", "application/pdf", pdf.NotAPdf, "HTML page"),
    (404, b"not found", "text/plain", pdf.PdfDownloadError, "HTTP 404"),
    (503, b"busy", "text/plain", pdf.PdfDownloadError, "HTTP 503"),
])
def test_download_refuses_anything_but_a_pdf(tmp_path, status, body, ctype, error, words):
    with FakeServices() as fake:
        fake.add("GET", "/pdf/1512.03385", status=status, body=body, content_type=ctype)
        with pytest.raises(error, match=words):
            pdf_files.download_arxiv_pdf("1512.03385", tmp_path, base_url=fake.pdf_url, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_download_offline_raises_arxiv_offline(tmp_path):
    with pytest.raises(pdf.ArxivOffline, match="offline") as info:
        pdf_files.download_arxiv_pdf("1512.03385", tmp_path, base_url=closed_port_url(), timeout=2)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_download_honours_offline_mode_without_a_request(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    with FakeServices() as fake:
        with pytest.raises(pdf.ArxivOffline, match="WORKBENCH_OFFLINE=1") as info:
            pdf_files.download_arxiv_pdf("1512.03385", tmp_path, base_url=fake.pdf_url)
        assert fake.requests == []
    assert "\n" not in str(info.value) and list(tmp_path.iterdir()) == []


def test_download_timeout_comes_from_the_environment(tmp_path, paper_pdf, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "0.5")
    with FakeServices() as fake:
        fake.add("GET", "/pdf/1512.03385", body=paper_pdf.read_bytes(),
                 content_type="application/pdf")
        fake.fail_forever("/pdf/1512.03385", Fault.slow(3.0))  # answers after 3 s
        with pytest.raises(pdf.ArxivOffline, match=r"did not answer within 0.5 s"):
            pdf_files.download_arxiv_pdf("1512.03385", tmp_path, base_url=fake.pdf_url)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("WORKBENCH_HTTP_TIMEOUT", "soon")
    with pytest.raises(SourceConfigError, match="WORKBENCH_HTTP_TIMEOUT"):
        pdf_files.download_arxiv_pdf("1512.03385", tmp_path, base_url="http://127.0.0.1:9")


def test_download_url_comes_from_the_environment(tmp_path, paper_pdf, monkeypatch):
    with FakeServices() as fake:
        fake.add("GET", "/pdf/1706.03762", body=paper_pdf.read_bytes(),
                 content_type="application/pdf")
        monkeypatch.setenv("WORKBENCH_ARXIV_PDF_URL", fake.pdf_url)
        assert pdf_files.download_arxiv_pdf("1706.03762", tmp_path, timeout=5).is_file()


# --- CLI and imports ------------------------------------------------------------------------------------


def _cli(*args, cwd=None):
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(cwd) if cwd else os.environ.get("WORKBENCH_WORKSPACE", ""))
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_prints_the_structure_summary(paper_pdf, tmp_path):
    out = _cli("pdf", str(paper_pdf), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert TITLE in out.stdout and "3 references" in out.stdout and "2.1 Details" in out.stdout
    assert list((tmp_path / ".workbench" / "pdf").glob("*.json"))


def test_cli_json_is_the_whole_structure(paper_pdf, tmp_path):
    out = _cli("pdf", str(paper_pdf), "--json", "--no-cache", cwd=tmp_path)
    data = json.loads(out.stdout)
    assert data["title"] == TITLE and len(data["references"]) == 3
    assert not (tmp_path / ".workbench").exists()


def test_cli_bad_pdf_is_one_error_line(tmp_path):
    bad = _html(tmp_path / "page.pdf")
    out = _cli("pdf", str(bad), cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error: ")
    assert "Traceback" not in out.stderr


def test_cli_finds_a_catalog_papers_pdf(workspace, paper_pdf):
    target = workspace.pdfs_dir / "1512.03385.pdf"  # resnet's arXiv id in papers.yaml
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(paper_pdf.read_bytes())
    out = _cli("pdf", "resnet", cwd=workspace.root)
    assert out.returncode == 0, out.stderr
    assert str(target) in out.stdout


def test_pdf_modules_import_no_heavy_libraries():
    code = ("import sys, workbench.pdf.document, workbench.pdf.files, workbench.notes.material; "
            "print(sorted(m for m in ('pymupdf', 'streamlit', 'torch', 'requests') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_pymupdf_is_loaded_without_its_onnx_layout_model():
    code = ("import sys; from workbench.pdf import document as pdf; pdf._pymupdf(); "
            "print('pymupdf' in sys.modules, 'pymupdf.layout' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "False"], out.stderr


# --- text clean-up ------------------------------------------------------------------------------------


def test_split_diacritics_and_ligatures_are_recomposed():
    from workbench.pdf.layout import clean_text

    assert clean_text("Piotr Doll\u00b4ar, L\u00b4eon  Bottou, \ufb01ne-tuning") == \
        "Piotr Doll\u00e1r, L\u00e9on Bottou, fine-tuning"
    assert clean_text("Universit\u00b4e de Montr\u00b4eal, Tom\u00b4\u0131s") == \
        "Universit\u00e9 de Montr\u00e9al, Tom\u00eds"


def test_line_break_hyphens_are_removed_but_real_hyphens_kept():
    from workbench.pdf.layout import join_lines

    assert join_lines(["deep net-", "works are", "Batch-", "Normalized"]) == \
        "deep networks are Batch-Normalized"
    assert join_lines(["pages 1 -", "2"]) == "pages 1 - 2"
