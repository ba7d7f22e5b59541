"""The reproduction's code beside the paper's PDF: folded by section, each paper reference a
button that turns the PDF viewer to its page, and the lines citing the page shown."""

from __future__ import annotations

import shutil

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, open_page
from tests.conftest import SHARED_PDFS, requires_shared


def _pill(at, label_start: str):
    for pills in at.pills:
        for option in pills.options:
            if option.startswith(label_start):
                return pills, option
    raise AssertionError(f"no reference button starting {label_start!r}")


@requires_shared
def test_a_code_reference_turns_the_pdf_to_its_page_and_the_page_lists_its_code(workspace):
    (workspace.root / "pdfs").mkdir(exist_ok=True)
    shutil.copy(SHARED_PDFS / "1512.03385.pdf", workspace.root / "pdfs")
    at = open_page("paper.py", paper="resnet")
    assert "Code" not in [h.value for h in at.subheader]  # the PDF alone until asked
    at.toggle(key="paper_code").set_value(True).run()
    assert "Code" in [h.value for h in at.subheader]
    folds = [e.label for e in at.expander]
    assert any(f.startswith("Blocks (the network)") for f in folds)
    assert any(f.startswith("Claims") for f in folds) and any(f.startswith("Presets") for f in folds)
    assert any("class BasicBlock" in c.value for c in at.code)
    pills, option = _pill(at, "Table 1 · p. ")
    page = int(option.rsplit("p. ", 1)[1])
    pills.set_value(option).run()
    assert not at.exception
    assert at.number_input(key="pdf_page").value == page
    assert any(m.value == f"**Code citing page {page}**" for m in at.markdown)
    assert any("resnet.py:" in m.value and "Table 1" in m.value for m in at.markdown)


@requires_shared
def test_a_link_with_a_page_opens_the_pdf_there(workspace):
    (workspace.root / "pdfs").mkdir(exist_ok=True)
    shutil.copy(SHARED_PDFS / "1512.03385.pdf", workspace.root / "pdfs")
    at = AppTest.from_file(str(APP / "main.py"), default_timeout=120)
    at.query_params["paper"], at.query_params["page"] = "resnet", "4"
    at.run()
    at.switch_page(str(APP / "views" / "paper.py")).run()
    assert not at.exception
    assert at.number_input(key="pdf_page").value == 4
    assert at.toggle(key="paper_code").value  # a link from the code opens the code beside
    assert "page" not in at.query_params  # taken once: the reader's own page choice then holds


def test_without_a_pdf_the_references_are_plain_text(workspace):
    at = open_page("paper.py", paper="resnet")
    at.toggle(key="paper_code").set_value(True).run()
    assert any(f.startswith("Blocks (the network)") for f in (e.label for e in at.expander))
    assert not at.pills
    assert any(c.value.startswith("no PDF yet to locate them in: ") for c in at.caption)


def test_the_paper_page_shows_what_its_code_changed_from_a_cited_papers(workspace):
    at = open_page("paper.py", paper="vit")
    folds = [e.label for e in at.expander]
    assert any(f.startswith("What Dosovitskiy et al. 2021 changed from Vaswani et al. 2017")
               for f in folds), folds
    codes = [c.value for c in at.code]
    assert any(c.startswith("class EncoderLayer(nn.Module):") for c in codes)
    assert any(c.startswith("class Block(nn.Module):") for c in codes)
