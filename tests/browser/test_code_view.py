"""The Code view in Chromium: on ResNet's and ViT's Paper pages, with the shared PDFs, a click
on a paper reference in the code turns the PDF viewer to the page it names, and the lines that
cite that page are listed under it. The PDFs are taken out again afterwards: the later
browser tests start without them."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.browser.test_e2e import expect, settled, shot
from tests.conftest import SHARED_PDFS, requires_shared

pytestmark = [pytest.mark.browser, requires_shared]


@pytest.fixture
def pdfs(app_server):
    _, root = app_server
    folder = root / "pdfs"
    folder.mkdir(exist_ok=True)
    names = ("1512.03385.pdf", "2010.11929.pdf")
    for name in names:
        shutil.copy(SHARED_PDFS / name, folder / name)
    yield
    for name in names:
        (folder / name).unlink(missing_ok=True)


@pytest.mark.parametrize(("paper", "file", "pages"), [("resnet", "1512.03385.pdf", 12),
                                                       ("vit", "2010.11929.pdf", 22)])
def test_a_reference_in_the_code_turns_the_pdf_to_its_page(page, app_server, pdfs, paper, file,
                                                            pages):
    url, _ = app_server
    page.goto(f"{url}/paper?paper={paper}")
    settled(page)
    page.get_by_text("Its code beside the PDF").click()
    settled(page)
    page.get_by_role("heading", name="Code", exact=True).scroll_into_view_if_needed()
    expect(page.get_by_role("heading", name="Code", exact=True)).to_be_visible()
    expect(page.get_by_text(f"{file}: page 1 of {pages}")).to_be_visible(timeout=60_000)
    blocks = page.get_by_test_id("stExpander").filter(has_text="Blocks (the network)")
    names = [t.strip() for t in blocks.locator("button").all_inner_texts()
             if re.search(r" · p\. \d+$", t.strip())]
    target = next((n for n in names if not n.endswith(" · p. 1")), None)
    assert target, names
    number = int(target.rsplit("p. ", 1)[1])
    blocks.locator("button").filter(has_text=target).first.click()
    settled(page)
    expect(page.get_by_text(f"{file}: page {number} of {pages}")).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Page \("))).to_have_value(str(number))
    expect(page.get_by_text(f"Code citing page {number}", exact=True)).to_be_visible()
    shot(page, f"code-view-{paper}")
