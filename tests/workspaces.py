"""One workspace factory for every test (datasette's `make_app_client`): `make_workspace(root,
catalog, ...)` over the named catalogs in `CATALOGS`, with the notes, sessions, files and cached
reproduction descriptions a test needs. tests/conftest.py's `make_ws` fixture makes one at
tmp_path/"ws" with WORKBENCH_WORKSPACE pointing at it; `workspace` is `make_ws()`.

Also here because tests in several folders share them: the handout workspace (`HANDOUT`: drawn
PDFs, notes by alice and bob, the week-6 session) and the citation-graph helpers (`CHAIN`,
`write_catalog`, `edges_only`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import partial
from pathlib import Path

from tests.conftest import SHIPPED_CATALOG

# --- catalogs --------------------------------------------------------------------------------------


def small_catalog(papers, topics=("t1", "t2")) -> str:
    """papers: (id, year, cites[, topic]) -> the text of a papers.yaml, one author per paper."""
    lines = ["topics:"] + [f"  - {{id: {t}, title: Topic {t.upper()}}}" for t in topics]
    lines.append("papers:")
    for spec in papers:
        pid, year, cites = spec[:3]
        topic = spec[3] if len(spec) > 3 else topics[0]
        lines += [f"  - id: {pid}", f"    title: Paper {pid.upper()}",
                  "    authors: [A. Author]", f"    year: {year}", f"    topic: {topic}"]
        if cites:
            lines.append(f"    cites: [{', '.join(cites)}]")
    return "\n".join(lines) + "\n"


# a (2010) <- b (2012), c (2013) <- d (2015) <- e (2016), and e also cites a:
#   b -> a, c -> a, d -> b, d -> c, e -> d, e -> a
CHAIN = [("a", 2010, []), ("b", 2012, ["a"]), ("c", 2013, ["a"]), ("d", 2015, ["b", "c"]),
         ("e", 2016, ["d", "a"], "t2")]

# name -> the text of a papers.yaml (or the file holding it)
CATALOGS: dict[str, str | Path] = {
    # the repository's papers.yaml, as a user gets it
    "shipped": SHIPPED_CATALOG,
    # the graph tests' five papers a..e (CHAIN) in topics t1 and t2
    "chain": small_catalog(CHAIN),
    # adding papers: resnet, and sequence papers matched by arXiv id, by title only and by DOI
    # only; its comments must survive every write
    "add": """\
# A small course catalog for the add tests.
topics:
  - id: cnns
    title: Convolutional networks
  - id: sequences
    title: Sequence models   # lecture 7

papers:
  # --- CNNs ---
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
    year: 2015
    arxiv: "1512.03385"
    doi: 10.1109/CVPR.2016.90
    topic: cnns

  # --- Sequences ---
  - id: bahdanau
    title: Neural Machine Translation by Jointly Learning to Align and Translate
    authors: [Dzmitry Bahdanau, KyungHyun Cho, Yoshua Bengio]
    year: 2014
    arxiv: "1409.0473"
    topic: sequences
  - id: layer-norm
    title: Layer Normalization
    authors: [Jimmy Lei Ba, Jamie Ryan Kiros, Geoffrey E. Hinton]
    year: 2016
    topic: sequences   # no arXiv id on purpose: matched by title
  - id: adam
    title: "Adam: A Method for Stochastic Optimization"
    authors: [Diederik P. Kingma, Jimmy Ba]
    year: 2014
    doi: 10.48550/arXiv.1412.6980   # matched by DOI only
    topic: sequences
""",
    # app pages: resnet (reproduced, cites vgg), vgg, alexnet in one topic
    "cnns": """\
topics:
  - id: cnns
    title: Convolutional networks
papers:
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
    year: 2015
    topic: cnns
    reproduction: resnet
    cites: [vgg]
  - id: vgg
    title: Very Deep Convolutional Networks for Large-Scale Image Recognition
    authors: [Karen Simonyan, Andrew Zisserman]
    year: 2014
    topic: cnns
  - id: alexnet
    title: ImageNet Classification with Deep Convolutional Neural Networks
    authors: [Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton]
    year: 2012
    topic: cnns
""",
    # notes: resnet (with an abstract), batchnorm, transformer in two topics
    "notes": """\
topics:
  - id: cnns
    title: Convolutional networks
  - id: attention
    title: Attention
papers:
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
    year: 2015
    topic: cnns
    arxiv: "1512.03385"
    abstract: We present a residual learning framework to ease the training of deep networks.
  - id: batchnorm
    title: "Batch Normalization: Accelerating Deep Network Training"
    authors: [Sergey Ioffe, Christian Szegedy]
    year: 2015
    topic: cnns
  - id: transformer
    title: Attention Is All You Need
    authors: [Ashish Vaswani, Noam Shazeer]
    year: 2017
    topic: attention
""",
    # hostile PDFs: tiny (a good PDF citing alexnet and resnet), lying and poster (hostile PDFs)
    "hostile-pdfs": """\
topics:
  - id: cnns
    title: Convolutional networks
papers:
  - id: tiny
    title: Skip Connections Make Tiny Networks Trainable
    authors: [Ada Lovelace]
    year: 2024
    topic: cnns
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He]
    year: 2015
    arxiv: "1512.03385"
    topic: cnns
  - id: alexnet
    title: ImageNet Classification with Deep Convolutional Neural Networks
    authors: [Alex Krizhevsky]
    year: 2012
    topic: cnns
  - id: lying
    title: A Paper Whose Page Tree Claims a Million Pages
    authors: [Mallory]
    year: 2024
    topic: cnns
  - id: poster
    title: A Poster Printed on One Page
    authors: [Mallory]
    year: 2024
    topic: cnns
""",
    # handouts: lenet <- resnet <- transformer <- vit, PDFs for resnet and transformer (HANDOUT)
    "handout": """\
topics:
  - id: cnns
    title: Convolutional networks
  - id: transformers
    title: Attention & transformers
papers:
  - id: lenet
    title: Gradient-Based Learning Applied to Document Recognition
    authors: [Yann LeCun, Léon Bottou]
    year: 1998
    venue: Proceedings of the IEEE 1998
    topic: cnns
  - id: resnet
    title: Deep Residual Learning for Image Recognition
    authors: [Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun]
    year: 2015
    venue: CVPR 2016
    arxiv: "1512.03385"
    doi: 10.1109/CVPR.2016.90
    topic: cnns
    reproduction: resnet
    cites: [lenet]
    pdf: pdfs/resnet-drawn.pdf
  - id: transformer
    title: Attention Is All You Need
    authors: [Ashish Vaswani, Łukasz Kaiser]
    year: 2017
    venue: NeurIPS 2017
    arxiv: "1706.03762"
    topic: transformers
    cites: [resnet]
    pdf: pdfs/transformer-drawn.pdf
  - id: vit
    title: "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale"
    authors: [Alexey Dosovitskiy, Lucas Beyer]
    year: 2020
    venue: ICLR 2021
    topic: transformers
    cites: [transformer, resnet]
""",
}

# --- the factory -----------------------------------------------------------------------------------


def make_workspace(root: Path, catalog: str | None = "shipped", *, monkeypatch=None,
                   reader: str | None = None,
                   files: Mapping[str, str | bytes | Callable[[Path], object]] | None = None,
                   notes: Mapping[tuple[str, str], Mapping] | None = None,
                   sessions: Iterable[Mapping] = (), descriptions: Path | None = None):
    """A workspace at `root` (made if missing; returned as a `Workspace`) holding

    - `catalog`: a name in CATALOGS, or the text of a papers.yaml, or None for no papers.yaml;
    - `files`: path under `root` -> its text, its bytes, or a function that writes the file at
      the path it is given (the PDF makers);
    - `notes`: (paper, reader) -> Note fields (`p2`, `p3`: the pass-2/3 notes), saved through
      the notes store with pass 1 started;
    - `sessions`: each a dict of Session fields, saved through the sessions store;
    - `descriptions`: a `.workbench/reproductions/` to copy in
      (`runs_helpers.cached_descriptions`), so that no `describe` child runs.

    With `monkeypatch`, WORKBENCH_WORKSPACE points at it, WORKBENCH_READER is `reader`, and with
    `descriptions` runs go one at a time on one thread each (2 shared cores).
    """
    from workbench.workspace import Workspace

    if (reader or descriptions) and monkeypatch is None:
        raise ValueError("reader and descriptions set environment variables: pass monkeypatch")
    root.mkdir(parents=True, exist_ok=True)
    if catalog is not None:
        text = CATALOGS.get(catalog, catalog)
        if isinstance(text, Path):
            shutil.copy(text, root / "papers.yaml")
        elif "\n" in text:
            (root / "papers.yaml").write_text(text, encoding="utf-8")
        else:
            raise KeyError(f"no catalog named {catalog!r}; CATALOGS has {', '.join(CATALOGS)}")
    for rel, content in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    ws = Workspace.resolve(root)
    for (paper, who), fields in (notes or {}).items():
        write_note(ws, paper, who, **fields)
    if sessions:
        from workbench.sessions.plan import Session, save_session

        for fields in sessions:
            save_session(ws, Session(**fields), None)
    if descriptions is not None:
        shutil.copytree(descriptions, root / ".workbench" / "reproductions")
    if monkeypatch is not None:
        monkeypatch.setenv("WORKBENCH_WORKSPACE", str(root))
        if reader:
            monkeypatch.setenv("WORKBENCH_READER", reader)
        if descriptions is not None:
            monkeypatch.setenv("OMP_NUM_THREADS", "1")  # keep real children lean
            monkeypatch.setenv("WORKBENCH_MAX_RUNS", "1")
    return ws


def write_note(ws, paper: str, reader: str, **fields) -> None:
    """`reader`'s note on `paper` with these Note fields (`p2`, `p3`: the pass-2/3 notes), pass 1
    started, saved through the notes store."""
    import dataclasses

    from workbench.notes import model as notes
    from workbench.notes import store as note_file

    note = notes.new_note(paper, reader)
    p2, p3 = fields.pop("p2", ""), fields.pop("p3", "")
    note = dataclasses.replace(note, **fields).with_pass(2, notes=p2).with_pass(3, notes=p3)
    note_file.save_note(ws, notes.mark_started(note, 1), None)


# --- the handout workspace: make_workspace(root, **HANDOUT) ----------------------------------------

BODY = ("We study one simple idea and report carefully what it does on two benchmarks. " * 6)

HANDOUT_NOTES = {
    ("resnet", "alice"): dict(
        category="An architecture paper with a large empirical study.",
        context="Builds on VGG and on highway networks.",
        correctness="The degradation experiment is convincing.",
        contributions="- Residual blocks with identity shortcuts\n- Networks of 152 layers",
        clarity="Very clear writing.",
        summary="Residual blocks make very deep networks trainable; see Figure 1.",
        assumptions="- That degradation is an optimisation problem.",
        differently="Report several seeds.",
        p2="Why is option B used on ImageNet but option A on CIFAR?"),
    ("resnet", "bob"): dict(
        category="An architecture paper with a large empirical study.",
        context="Related to highway networks and VGG.",
        correctness="Depth and bottleneck design are mixed in the ImageNet table.",
        contributions="Identity shortcuts for very deep nets.",
        clarity="Well written, dense appendix.",
        summary="Deeper plain nets train worse; residual nets do not.",
        future_work="Study depth against data size."),
    ("transformer", "alice"): dict(
        category="Architecture paper for translation.",
        context="Replaces recurrence in seq2seq with attention.",
        correctness="The BLEU gains hold up.",
        contributions="Multi-head self-attention only.",
        clarity="Dense but precise.",
        summary="Attention alone is enough for translation.",
        assumptions="- Sinusoidal encodings extrapolate to longer sequences."),
    ("transformer", "bob"): dict(
        category="New architecture, empirical paper.",
        context="ConvS2S and ByteNet are the baselines.",
        correctness="Ablations are single runs.",
        contributions="An encoder-decoder without recurrence.",
        clarity="Table 1 is a nice summary.",
        summary="Self-attention beats recurrent models at lower cost."),
}


def draw_pdf(path, title: str, caption: str, fill=(0.2, 0.4, 0.8)) -> None:
    """A one-page paper: title, authors, abstract, a drawn figure (three boxes joined by
    arrows, labels inside) with its caption below, and body text."""
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    page.insert_textbox(pymupdf.Rect(72, 60, 540, 100), title, fontsize=16, align=1)
    page.insert_textbox(pymupdf.Rect(72, 110, 540, 130), "Ada Lovelace, Alan Turing",
                        fontsize=11, align=1)
    page.insert_text((72, 160), "Abstract", fontsize=12)
    page.insert_textbox(pymupdf.Rect(72, 170, 540, 260), BODY, fontsize=10)
    page.insert_text((72, 285), "1 Introduction", fontsize=12)
    page.insert_textbox(pymupdf.Rect(72, 295, 540, 350), BODY, fontsize=10)
    shape = page.new_shape()
    for i in range(3):
        shape.draw_rect(pymupdf.Rect(150 + i * 110, 380, 230 + i * 110, 440))
    shape.finish(color=(0, 0, 0), fill=fill, width=1)
    shape.draw_line((230, 410), (260, 410))
    shape.draw_line((340, 410), (370, 410))
    shape.finish(color=(0, 0, 0), width=1.5)
    shape.commit()
    page.insert_text((170, 415), "input", fontsize=8)
    page.insert_text((280, 415), "layer", fontsize=8)
    page.insert_textbox(pymupdf.Rect(72, 470, 540, 500), caption, fontsize=9)
    page.insert_textbox(pymupdf.Rect(72, 510, 540, 600), BODY, fontsize=10)
    page.insert_text((72, 620), "2 Conclusion", fontsize=12)
    page.insert_textbox(pymupdf.Rect(72, 630, 540, 700), BODY, fontsize=10)
    doc.save(path)
    doc.close()


CAPTIONS = {
    "resnet": "Figure 1: A drawn residual block: three boxes joined by arrows, the input on "
              "the left and the output on the right.",
    "transformer": "Figure 1: A drawn attention stack: three boxes joined by arrows, queries "
                   "on the left and values on the right.",
}

# a session of resnet, transformer and vit (vit: no notes, no PDF, no run)
WEEK_6 = dict(slug="week-6", title="Week 6: residuals and attention", date=date(2025, 3, 10),
              papers=("resnet", "transformer", "vit"),
              presenters={"resnet": ("Alice Martin", "Bob Chen"), "transformer": ("Carol Diaz",)})

# the handout catalog, drawn PDFs for resnet and transformer, notes by alice and bob, WEEK_6
HANDOUT = dict(
    catalog="handout",
    files={"pdfs/resnet-drawn.pdf": partial(draw_pdf, title="Deep Residual Learning",
                                            caption=CAPTIONS["resnet"]),
           "pdfs/transformer-drawn.pdf": partial(draw_pdf, title="Attention Is All You Need",
                                                 caption=CAPTIONS["transformer"],
                                                 fill=(0.9, 0.5, 0.1))},
    notes=HANDOUT_NOTES,
    sessions=[WEEK_6],
)

# --- the citation graph ----------------------------------------------------------------------------


def write_catalog(root: Path, papers, topics=("t1", "t2")):
    """`small_catalog(papers, topics)` as the papers.yaml of a workspace at `root`; the Catalog
    loaded and validated from it."""
    from workbench.catalog import validate as catalog_mod

    make_workspace(root, small_catalog(papers, topics))
    return catalog_mod.load(root / "papers.yaml")


def edges_only(edges, years=None):
    """A graph from bare (citing, cited) pairs, every node 'in the catalog'."""
    from workbench.graph import build as g

    graph = g.build_graph(None, s2_edges=edges)
    for n in graph:
        graph.nodes[n]["in_catalog"] = True
        graph.nodes[n]["year"] = (years or {}).get(n)
    return graph
