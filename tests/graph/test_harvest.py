"""`workbench graph harvest`: citations read from the workspace's PDFs that the catalog lacks,
each with the printed entry, and `--apply` writing them into papers.yaml (comments, order and
every other byte kept) through the catalog's guarded writer."""

from __future__ import annotations

import pytest

from tests.pdf_fixtures import make_paper
from workbench import graph
from workbench.catalog import add_citations
from workbench.catalog import validate as catalog
from workbench.cli.commands import main
from workbench.errors import CatalogError
from workbench.workspace import Workspace

CATALOG = """\
# the course's list (a comment that must survive)
topics:
  - id: cnns
    title: Convolutional networks
papers:
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
    cites:
      - lenet
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He]
    year: 2016
    arxiv: "1512.03385"
    topic: cnns
    abstract: >-
      Deeper neural networks are more difficult to train.
      We present a residual learning framework.

  # --- a heading comment that belongs to the next entry ---
  - id: tiny
    title: Skip Connections Make Tiny Networks Trainable
    authors: [Ada Lovelace]
    year: 2024
    topic: cnns
    cites: [alexnet]  # checked by hand
"""


@pytest.fixture
def ws(tmp_path) -> Workspace:
    (tmp_path / "papers.yaml").write_text(CATALOG)
    make_paper(tmp_path / "pdfs" / "tiny.pdf")  # cites AlexNet (title), ResNet (arXiv), LeCun (DOI)
    return Workspace.resolve(tmp_path)


def test_harvest_lists_the_pdfs_citations_the_catalog_lacks_with_the_printed_entry(ws):
    found, skipped = graph.harvest(ws, catalog.load(ws.catalog_path))
    assert skipped == []
    assert [(f.citing, f.cited, f.method) for f in found] == [
        ("tiny", "resnet", "arxiv"), ("tiny", "lenet", "doi")]  # alexnet is already cited
    assert found[0].evidence.startswith("[2] K. He, X. Zhang, S. Ren, and J. Sun. Deep residual")
    assert found[1].years_later == 1998 - 2024


def test_cli_lists_then_applies_keeping_every_other_byte(ws, capsys):
    assert main(["--workspace", str(ws.root), "graph", "harvest"]) == 0
    out = capsys.readouterr().out
    assert "tiny -> resnet [arxiv 1.00]\n    [2] K. He" in out
    assert "2 citation(s) missing; read each entry, then add them with --apply" in out
    assert ws.catalog_path.read_text() == CATALOG  # listing writes nothing

    assert main(["--workspace", str(ws.root), "graph", "harvest", "--apply"]) == 0
    assert "added 2 citation(s) to 1 paper(s) in papers.yaml" in capsys.readouterr().out
    text = ws.catalog_path.read_text()
    assert text == CATALOG.replace("    cites: [alexnet]  # checked by hand",
                                   "    cites: [alexnet, resnet, lenet]  # checked by hand")
    assert main(["--workspace", str(ws.root), "graph", "harvest"]) == 0
    assert "no citation in the PDFs is missing" in capsys.readouterr().out


def test_add_citations_extends_block_lists_and_adds_a_missing_cites_line(ws):
    added = add_citations(ws.catalog_path, {"alexnet": ["lenet", "resnet"], "resnet":
                                            ["alexnet", "lenet", "resnet", "nope"]})
    assert added == {"alexnet": ("resnet",), "resnet": ("alexnet", "lenet")}
    text = ws.catalog_path.read_text()
    assert "    cites:\n      - lenet\n      - resnet\n  - id: resnet" in text
    # after the folded abstract, before the blank line and the next entry's heading comment
    assert ("      We present a residual learning framework.\n    cites: [alexnet, lenet]\n\n"
            "  # --- a heading comment") in text
    cat = catalog.load(ws.catalog_path)
    assert cat.by_id["resnet"].abstract.startswith("Deeper neural networks")
    assert cat.by_id["resnet"].cites == ("alexnet", "lenet")
    assert add_citations(ws.catalog_path, {"resnet": ["lenet"]}) == {}  # nothing new: no write


def test_add_citations_refuses_a_layout_it_cannot_edit_safely(ws):
    ws.catalog_path.write_text(CATALOG.replace("    cites: [alexnet]  # checked by hand",
                                               "    cites: [alexnet,\n      lenet]"))
    before = ws.catalog_path.read_bytes()
    with pytest.raises(CatalogError, match="would change more than their `cites`"):
        add_citations(ws.catalog_path, {"tiny": ["resnet"]})
    assert ws.catalog_path.read_bytes() == before
