"""A reproduction's paper references ("Sec. 3.3", "Table 6", "Eq. 2") found in its comments and
located in the paper's PDF (`workbench.runs.code`, `workbench repro code NAME --check`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import SHARED_PDFS, requires_shared
from tests.pdf_fixtures import requires_tesseract, shared_structure
from workbench.catalog import reproduction_file
from workbench.cli.commands import main
from workbench.runs import code


def _refs(text: str) -> list[tuple[str, str]]:
    return [(r.kind, r.number) for r in code.refs_in_text(text)]


def test_references_are_read_with_their_lists_ranges_and_numbering_styles():
    assert _refs("(Sec. 1, 4.2-4.3, Fig. 3-4)") == [
        ("section", "1"), ("section", "4.2"), ("section", "4.3"), ("figure", "3"), ("figure", "4")]
    assert _refs("Eqs. (2)-(3) and Table I; Sec. II-B; Appendix D.4; Algorithm 1") == [
        ("equation", "2"), ("equation", "3"), ("table", "I"), ("section", "II-B"),
        ("appendix", "D.4"), ("algorithm", "1")]
    assert _refs("Tables 1 and 2, Figure 5, Section 3, Equation 7") == [
        ("table", "1"), ("table", "2"), ("figure", "5"), ("section", "3"), ("equation", "7")]


def test_numbers_that_only_follow_a_reference_are_not_taken_for_it():
    assert _refs("(Sec. 3.4, 160k/80k vocabularies)") == [("section", "3.4")]
    assert _refs("Table 3: 4096 for pre-training") == [("table", "3")]
    assert _refs("one kernel per pair of Table I, 60 pairs") == [("table", "I")]
    assert _refs("Security and Figures of merit, an Eq. x") == []


def test_a_reference_after_an_author_citation_or_another_papers_link_is_that_papers():
    own, = code.refs_in_text("option A shortcuts (Sec. 3.3)")
    theirs, = code.refs_in_text("option A shortcuts (He et al., Sec. 4.2)")
    assert not own.foreign and theirs.foreign
    linked = code.refs_in_text("Identity mappings (https://arxiv.org/abs/1603.05027): Eq. 4",
                               own=("1512.03385",))
    mine = code.refs_in_text("ResNet (https://arxiv.org/abs/1512.03385): Eq. 1",
                             own=("1512.03385",))
    assert linked[0].foreign and not mine[0].foreign
    named, seen = code.refs_in_text("clipped as in Arjovsky Algorithm 1; See Table 2")
    assert named.foreign and not seen.foreign
    dated, = code.refs_in_text("ink 1.175 (1998 Sec. III-A)")
    assert dated.year == 1998 and not dated.foreign


SOURCE = '''"""A module (Sec. 3)."""
import torch


# the residual unit of Fig. 2
class Block(torch.nn.Module):
    """F(x) + x (Eq. 1)."""


class PreAct(torch.nn.Module):
    """Identity mappings (He et al. 2016b): x + F(x) (Eq. 3)."""

    def forward(self, x):
        return x  # Eq. 4


@dataclass
class Config:
    lr: float = 0.1  # Table 7


def training_step(model, batch):
    return 0


PRESETS = {"paper": Config()}
CLAIMS = []
'''


def test_the_source_folds_into_blocks_each_with_its_references(tmp_path):
    path = tmp_path / "toy.py"
    path.write_text(SOURCE)
    view = code.code_view("toy", path)
    kinds = [(b.kind, b.name) for b in view.blocks]
    assert kinds == [("docstring", "module docstring"), ("other", "import"),
                     ("blocks", "class Block"), ("blocks", "class PreAct"),
                     ("Config", "class Config"), ("step", "def training_step"),
                     ("presets", "PRESETS"), ("claims", "CLAIMS")]
    block = view.blocks[2]
    assert view.text_of(block).startswith("# the residual unit of Fig. 2\nclass Block")
    assert [r.label for r in block.refs] == ["Figure 2", "Equation 1"]
    # a class whose docstring opens by citing another paper: all its references are that paper's
    assert all(r.foreign for r in view.blocks[3].refs) and len(view.blocks[3].refs) == 2


def _structure(file: str):
    return shared_structure(file)  # the same extraction as tests/pdf, done once per test run


# the shared PDFs of papers with a reproduction module: (module, file, year of the paper)
CHECKED = [("resnet", "1512.03385.pdf", 2016), ("vit", "2010.11929.pdf", 2021),
           ("transformer", "1706.03762.pdf", 2017), ("batchnorm", "1502.03167.pdf", 2015),
           ("nin", "1312.4400.pdf", 2014), ("googlenet", "1409.4842.pdf", 2015),
           ("vgg", "1409.1556.pdf", 2015), ("ssd", "1512.02325.pdf", 2016),
           ("alexnet", "alexnet_nips2012.pdf", 2012), ("gan", "1406.2661.pdf", 2014),
           ("unet", "1505.04597.pdf", 2015), ("retinanet", "1708.02002.pdf", 2017),
           # Type 3 bitmap fonts: read by OCR (minutes, shared with tests/pdf/test_pdf_real.py)
           pytest.param("lenet", "lecun1998_gradient_based_type3.pdf", 1998,
                        marks=[requires_tesseract, pytest.mark.slow], id="lenet")]


@requires_shared
@pytest.mark.parametrize(("name", "file", "year"), CHECKED,
                         ids=[c[0] if isinstance(c, tuple) else None for c in CHECKED])
def test_every_reference_in_a_reproduction_resolves_to_its_papers_pdf(name, file, year):
    structure = _structure(file)
    view = code.code_view(name, reproduction_file(name), own=(file.removesuffix(".pdf"),))
    checked = code.check(view, structure, year)
    assert len(checked) >= 20  # the modules cite their papers throughout
    dangling = [f"{name}.py:{c.ref.line}: {c.ref.text}" for c in checked
                if c.place is None and not c.unsure]
    assert dangling == []
    exact = [c for c in checked if c.place is not None and c.place.exact]
    assert len(exact) >= len(checked) / 4  # most land on the very section, figure or table


@requires_shared
def test_a_citation_the_paper_does_not_have_is_reported_with_what_it_has(tmp_path):
    structure = _structure("1512.03385.pdf")
    path = tmp_path / "resnet_copy.py"
    path.write_text(reproduction_file("resnet").read_text() + "\n# as in Table 15 and Eq. 9\n")
    view = code.code_view("resnet", path, own=("1512.03385",))
    checked = code.check(view, structure, 2016)
    bad = [c for c in checked if c.place is None]
    assert [c.ref.label for c in bad] == ["Table 15", "Equation 9"]
    paper = type("P", (), {"id": "resnet"})
    message = code.dangling_message(code.PaperCode(paper, view, True, structure, checked), bad[0])
    last = len(path.read_text().splitlines())
    assert message == (f"resnet_copy.py:{last}: 'Table 15' points at Table 15, which "
                       "1512.03385.pdf does not have (its tables: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "
                       "11, 12, 13, 14)")


@requires_shared
def test_places_are_the_pages_of_headings_captions_and_equation_numbers():
    structure = _structure("1512.03385.pdf")
    ref = code.refs_in_text
    assert code.locate(ref("Sec. 3.3")[0], structure).what == "3.3. Network Architectures"
    assert code.locate(ref("Table 1")[0], structure).page == 5
    assert code.locate(ref("Eq. 2")[0], structure).page == 3
    assert code.locate(ref("Fig. 2")[0], structure).page == 2
    gan = _structure("1406.2661.pdf")
    assert code.locate(ref("Algorithm 1")[0], gan).page == 4


@requires_shared
def test_cli_checks_a_reproduction_against_the_workspace_pdf(make_ws, capsys):
    ws = make_ws()
    (ws.root / "pdfs").mkdir(exist_ok=True)
    shutil.copy(SHARED_PDFS / "1502.03167.pdf", ws.root / "pdfs")
    assert main(["--workspace", str(ws.root), "repro", "code", "batchnorm", "--check"]) == 0
    assert capsys.readouterr().out.strip().endswith(
        "batchnorm: 43 references checked against the PDFs, 0 dangling")
    assert main(["--workspace", str(ws.root), "repro", "code", "batchnorm"]) == 0
    out = capsys.readouterr().out
    assert "batchnorm.py:" in out and "-> page 3, Algorithm 1" in out
    assert main(["--workspace", str(ws.root), "repro", "code", "nope"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: no catalog paper links to reproduction 'nope' (set `reproduction: nope` on one "
        "in papers.yaml)")


def test_the_source_of_every_registered_module_parses_into_blocks():
    folder = Path(reproduction_file("resnet")).parent
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or path.name == "cli.py":
            continue
        view = code.code_view(path.stem, path)
        assert view.blocks and view.blocks[-1].end <= len(view.lines)


def test_what_a_paper_changed_along_a_citation_is_the_pairs_its_module_declares():
    from tests.conftest import SHIPPED_CATALOG
    from workbench import catalog

    cat = catalog.load(SHIPPED_CATALOG)
    vit, resnet, transformer = (cat.by_id[i] for i in ("vit", "resnet", "transformer"))
    assert "resnet" in vit.cites and "transformer" in vit.cites
    pairs = [(c.before.name, c.after.name) for c in code.edge_changes(vit, transformer)]
    assert pairs == [("class EncoderLayer", "class Block"),
                     ("class MultiHeadAttention", "class Attention")]
    block = code.edge_changes(vit, resnet)[1]
    assert block.before_text.startswith("class BasicBlock(nn.Module):")
    assert block.after_text.startswith("class Block(nn.Module):")
    assert "inductive bias" in block.what
    assert code.edge_changes(resnet, vit) == []  # only the later paper declares what it changed
    # every declared lineage names blocks that exist, along a citation of the catalog
    for paper in cat.papers:
        name = paper.reproduction
        path = reproduction_file(name) if name and name != "workbench" else None
        if path is None or f'PAPER = "{paper.id}"' not in path.read_text():
            continue  # a module's lineage is its own paper's
        for earlier, pairs in code.lineage(code.code_view(name, path)).items():
            cited = [cat.by_id[c] for c in paper.cites if cat.by_id[c].reproduction == earlier]
            assert cited, (paper.id, earlier)
            assert len(code.edge_changes(paper, cited[0])) == len(pairs), (paper.id, earlier)


def test_a_lineage_that_is_not_a_literal_of_the_right_shape_is_ignored(tmp_path):
    path = tmp_path / "m.py"
    for text in ('LINEAGE = {"a": [("X", "Y")]}\n', 'LINEAGE = dict(a=1)\n',
                 'LINEAGE = {"a": [("X", "Y", __import__("os").getcwd())]}\n'):
        path.write_text(text)
        assert code.lineage(code.code_view("m", path)) == {}
