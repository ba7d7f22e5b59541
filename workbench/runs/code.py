"""A reproduction's source beside its paper: the paper references its comments make ("Sec. 3.3",
"Eq. 2", "Table 6", "Fig. 4", "Algorithm 1", "Appendix B"), found in the source text and
located in the paper's PDF structure (`workbench.pdf`: headings, captions, equation labels).

The source is read as text and parsed with `ast` and `tokenize` (never imported or run), so
the app can show any reproduction's code without torch. `code_view` folds the module by what
each top-level block is (blocks, Config, presets, data, step, claims); `locate` finds the page
a reference points at; `check` lists the references a PDF does not have (a "Table 7" in a
paper with six tables), which `workbench repro code NAME --check` and a test run.

Which paper a reference belongs to: the module's own paper, unless a year just before it names
another of the module's papers ("1998 Sec. III-C" in the LeNet module serving 1989 and 1998)
or it follows an author citation ("He et al., Sec. 4.2"): those are the other paper's places
and are not looked up in this PDF.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError

KINDS = ("section", "equation", "table", "figure", "algorithm", "appendix")
_KIND_OF = [  # prefix of the word as written -> kind
    ("sec", "section"), ("§", "section"), ("eq", "equation"), ("tab", "table"),
    ("fig", "figure"), ("alg", "algorithm"), ("app", "appendix"),
]
_NUM = r"\(?(?:[IVX]{1,5}(?:-[A-Z](?:\.\d{1,2})*)?|[A-Z](?:\.\d{1,2})+|\d{1,2}(?:\.\d{1,2})*[a-z]?|[A-Z])\)?(?![\w/])"
REF_RE = re.compile(
    r"(?P<word>\bSec(?:tions?\b|s?\.)|§|\bEq(?:uations?\b|s?\.)|\bTab(?:les?\b|\.)|"
    r"\bFig(?:ures?\b|s?\.)|\bAlgorithms?\b|\bApp(?:endix|endices)\b)\s*"
    rf"(?P<nums>{_NUM}(?:\s*(?:,|and|&|-|–|/)\s*{_NUM})*)")
_ONE_NUM = re.compile(_NUM)
_LINK = re.compile(r"(?:arxiv\.org/abs/|doi\.org/)([^\s;,)]+)", re.IGNORECASE)
_YEAR_BEFORE = re.compile(r"\b((?:19|20)\d\d)[a-z]?\)?(?:'s)?[,:]?\s*(?:\(|,\s*)?$")
# "Arjovsky Fig. 3", "Mirza Sec. 3.2": a surname just before a reference names another paper
_SURNAME_BEFORE = re.compile(r"\b([A-Z][a-z]+)(?:'s)?,?\s*$")
_NOT_SURNAMES = {"See", "The", "In", "As", "Per", "Also", "And", "Or", "From", "With", "Of",
                 "On", "At", "Its", "This", "That", "Our", "Their", "Both", "By", "For", "To",
                 "Cf", "Like", "Unlike", "After", "Before", "Under", "Paper", "Same", "Main",
                 "Original", "Text", "Caption", "Note", "Step", "Line", "Page", "Part"}
_AUTHORS_BEFORE = re.compile(r"et al\.?,?\s*(?:\(?(?:19|20)\d\d[a-z]?\)?,?\s*)?\(?$")


@dataclass(frozen=True)
class CodeRef:
    kind: str          # one of KINDS
    number: str        # as written, without brackets: '3.3', 'II-B', 'A', '7'
    line: int          # 1-based line of the source
    text: str          # the reference as written: 'Sec. 4.2-4.3'
    year: int | None = None   # a year just before it: which of the module's papers
    foreign: bool = False     # after an author citation: another paper's place

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} {self.number}"


@dataclass(frozen=True)
class Place:
    """Where a reference points in the PDF: the page, and what is there."""
    page: int          # 1-based
    what: str          # '3.3 Identity Mapping by Shortcuts', 'Table 6', 'Equation (2)'
    exact: bool = True  # False: only its enclosing section was found ('II' for 'II-B')


@dataclass(frozen=True)
class CodeBlock:
    kind: str          # blocks | Config | presets | data | step | claims | other
    name: str          # 'class ResidualBlock', 'PRESETS', ...
    start: int         # 1-based, first line (decorators and leading comments included)
    end: int           # 1-based, last line
    refs: tuple[CodeRef, ...] = ()


@dataclass
class CodeView:
    name: str
    path: Path
    source: str
    blocks: list[CodeBlock]
    refs: list[CodeRef] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        return self.source.splitlines()

    def text_of(self, block: CodeBlock) -> str:
        return "\n".join(self.lines[block.start - 1:block.end])


def _kind(word: str) -> str:
    w = word.lower()
    return next(kind for prefix, kind in _KIND_OF if w.startswith(prefix))


def _shape(number: str) -> str:
    return "roman" if re.match(r"[IVX]+(-|$)", number) else "digits" if number[0].isdigit() \
        else "letter"


def _numbers(nums: str) -> list[str]:
    """The numbers of a list or range, while they keep the first one's shape: 'Table I, 60
    pairs' is Table I only."""
    out = [m.group(0).strip("()") for m in _ONE_NUM.finditer(nums)]
    same = [n for n in out if _shape(n) == _shape(out[0])] if out else []
    return out[:next((k for k, n in enumerate(out) if n not in same), len(out))]


def cites_other(text: str, own: tuple[str, ...] = ()) -> bool:
    """Whether `text` cites another paper: an author citation ("He et al.") or a link to an
    arXiv id or DOI that is none of `own`."""
    return bool(re.search(r"et al\b", text)) or any(
        not any(m.group(1).lower().startswith(o.lower()) for o in own if o)
        for m in _LINK.finditer(text))


def refs_in_text(text: str, line: int = 1, own: tuple[str, ...] = ()) -> list[CodeRef]:
    """The paper references in a piece of comment or string text starting at `line`. A
    reference after an author citation ("He et al.") or a link to another paper than `own`
    (its arXiv id, DOI) earlier in its paragraph is that other paper's (`foreign`)."""
    out = []
    for m in REF_RE.finditer(text):
        kind = _kind(m["word"])
        before = text[max(0, m.start() - 40):m.start()].split("\n")[-1]
        year = _YEAR_BEFORE.search(before)
        paragraph = text[:m.start()].rsplit("\n\n", 1)[-1]
        surname = _SURNAME_BEFORE.search(before)
        foreign = (_AUTHORS_BEFORE.search(before) is not None
                   or (surname is not None and surname.group(1) not in _NOT_SURNAMES)
                   or (year is None and cites_other(paragraph, own)))
        at = line + text.count("\n", 0, m.start())
        for number in _numbers(m["nums"]):
            if kind == "equation" and not re.fullmatch(r"\d{1,3}|[A-Z]\.\d{1,2}", number):
                continue
            if kind == "appendix" and not re.fullmatch(r"[A-Z](\.\d{1,2})*", number):
                continue
            out.append(CodeRef(kind, number, at, m.group(0).strip(),
                               int(year.group(1)) if year else None, foreign))
    return out


def find_refs(source: str, own: tuple[str, ...] = ()) -> list[CodeRef]:
    """Every paper reference in the source's comments and string literals, in line order."""
    out: list[CodeRef] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise WorkbenchError(f"the source cannot be read as Python: {exc}") from None
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            out.extend(refs_in_text(tok.string, tok.start[0], own))
    return out


def _block_kind(node: ast.stmt) -> tuple[str, str]:
    if isinstance(node, ast.ClassDef):
        bases = {getattr(b, "attr", getattr(b, "id", "")) for b in node.bases}
        if node.name == "Config":
            return "Config", f"class {node.name}"
        return ("blocks" if bases & {"Module", "Sequential", "ModuleList"} else "other",
                f"class {node.name}")
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        name = node.name
        if name in ("training_step", "evaluate", "curve_metrics", "configure_optimizers",
                    "optimizers") or "step" in name:
            return "step", f"def {name}"
        if "data" in name or name in ("baselines", "variants") or "loader" in name:
            return "data", f"def {name}"
        if name.startswith("build_model") or name.startswith("build"):
            return "blocks", f"def {name}"
        return "other", f"def {name}"
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if "PRESETS" in names:
            return "presets", "PRESETS"
        if "CLAIMS" in names:
            return "claims", "CLAIMS"
        return "other", ", ".join(names) or "assignment"
    if isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
        return "docstring", "module docstring"
    return "other", type(node).__name__.lower()


def code_blocks(source: str) -> list[CodeBlock]:
    """The module's top-level statements as blocks (imports and small assignments merged into
    their neighbours), each with its first line including decorators and leading comments."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise WorkbenchError(f"the source cannot be read as Python: line {exc.lineno}: "
                             f"{exc.msg}") from None
    lines = source.splitlines()
    blocks: list[CodeBlock] = []
    prev_end = 0
    for node in tree.body:
        kind, name = _block_kind(node)
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        while start - 1 > prev_end and lines[start - 2].lstrip().startswith("#"):
            start -= 1  # the comment lines just above belong to the block
        end = node.end_lineno or node.lineno
        if blocks and kind == "other" and blocks[-1].kind == "other" and start - blocks[-1].end <= 2:
            last = blocks.pop()
            blocks.append(CodeBlock("other", last.name if len(last.name) > 40
                                    else f"{last.name}, {name}"[:60], last.start, end))
        else:
            blocks.append(CodeBlock(kind, name, start, end))
        prev_end = end
    return blocks


def _foreign_blocks(source: str, own: tuple[str, ...]) -> list[tuple[int, int]]:
    """Line spans of the top-level classes and functions whose docstring opens by citing
    another paper ("Identity mappings (He et al. 2016b), ..."): all their references are it."""
    spans = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            doc = ast.get_docstring(node) or ""
            if cites_other(re.split(r"(?<=[.:])\s", doc, maxsplit=1)[0], own):
                spans.append((node.lineno, node.end_lineno or node.lineno))
    return spans


def code_view(name: str, path: str | Path, own: tuple[str, ...] = ()) -> CodeView:
    """Read reproduction `name`'s source at `path` and fold it into blocks with their refs;
    `own` are the main paper's arXiv id and DOI (a link to them is no other paper's)."""
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"reproduction '{name}': cannot read {path.name}: {exc}") from None
    refs = find_refs(source, own)
    spans = _foreign_blocks(source, own)
    refs = [r if r.foreign or not any(a <= r.line <= b for a, b in spans)
            else CodeRef(r.kind, r.number, r.line, r.text, r.year, True) for r in refs]
    blocks = [CodeBlock(b.kind, b.name, b.start, b.end,
                        tuple(r for r in refs if b.start <= r.line <= b.end))
              for b in code_blocks(source)]
    return CodeView(name, path, source, blocks, refs)


# --- locating references in a paper's PDF structure ----------------------------------------------


def _roman_parent(number: str) -> str | None:
    """'II-B' -> 'II', '3.3.1' -> '3.3', 'D.4' -> 'D'; None at the top."""
    for sep in ("-", "."):
        if sep in number:
            return number.rsplit(sep, 1)[0]
    return None


def _section_numbers(structure) -> dict[str, object]:
    out = {}
    for s in structure.sections:
        if s.number:
            out.setdefault(s.number.rstrip("."), s)
    return out


def locate(ref: CodeRef, structure) -> Place | None:
    """The page of the PDF that `ref` points at, or None where the PDF has no such place."""
    if ref.kind in ("section", "appendix"):
        sections = _section_numbers(structure)
        number, exact = ref.number, True
        while number is not None:
            if number in sections:
                s = sections[number]
                return Place(s.page, s.title, exact)
            number, exact = _roman_parent(number), False
        if ref.kind == "appendix" or re.fullmatch(r"[A-Z](\.\d+)*", ref.number):
            appendix = next((s for s in structure.sections
                             if s.name.lower().startswith(("appendix", "appendices"))), None)
            if appendix is not None:
                return Place(appendix.page, appendix.title, False)
        return None
    if ref.kind in ("table", "figure"):
        number = ref.number.rstrip("abcdefgh") or ref.number
        fig = next((f for f in structure.figures if f.kind == ref.kind and f.number == number),
                   None)
        return Place(fig.page, fig.label) if fig else None
    label = next((x for x in getattr(structure, "labels", ())
                  if x.kind == ref.kind and x.number == ref.number), None)
    if label is None:
        return None
    return Place(label.page, f"Equation ({label.number})" if ref.kind == "equation"
                 else f"Algorithm {label.number}")


def own_refs(refs: list[CodeRef], paper_year: int | None, main: bool) -> list[CodeRef]:
    """The references that point into this paper: not after an author citation, and either
    year-qualified with its year, or (for the module's main paper) not year-qualified."""
    return [r for r in refs if not r.foreign
            and (r.year == paper_year if r.year is not None else main)]


@dataclass(frozen=True)
class CheckedRef:
    ref: CodeRef
    place: Place | None
    unsure: bool = False  # not found, but on a PDF read by OCR, whose equation numbers are unsure


def check(view: CodeView, structure, paper_year: int | None, main: bool = True
          ) -> list[CheckedRef]:
    """Each of the module's references into this paper with its place (None: not found). An
    equation not found in a PDF read by OCR is `unsure`, not dangling: OCR reads formulas and
    their numbers poorly."""
    ocr = bool(getattr(structure, "ocr_pages", []))
    out = []
    for r in own_refs(view.refs, paper_year, main):
        place = locate(r, structure)
        out.append(CheckedRef(r, place, place is None and ocr and r.kind == "equation"))
    return out


def inventory(structure) -> dict[str, list[str]]:
    """What the PDF has, per kind, for an error message: {'table': ['1', ..., '6'], ...}."""
    out: dict[str, list[str]] = {
        "section": [s.number for s in structure.sections if s.number],
        "table": [f.number for f in structure.figures if f.kind == "table"],
        "figure": [f.number for f in structure.figures if f.kind == "figure"],
        "equation": [x.number for x in getattr(structure, "labels", ()) if x.kind == "equation"],
        "algorithm": [x.number for x in getattr(structure, "labels", ()) if x.kind == "algorithm"],
    }
    out["appendix"] = [n for n in out["section"] if n[:1].isalpha()]
    return out


def citing_lines(view: CodeView, structure, paper_year: int | None, main: bool = True
                 ) -> dict[int, list[CheckedRef]]:
    """The reverse view: page -> the references (with their lines) that point at it."""
    out: dict[int, list[CheckedRef]] = {}
    for c in check(view, structure, paper_year, main):
        if c.place is not None:
            out.setdefault(c.place.page, []).append(c)
    return out


# --- a catalog paper's reproduction code against its PDF ------------------------------------------

_PAPER_LINE = re.compile(r"^PAPER\s*(?::[^=]*)?=\s*[\"']([a-z0-9-]+)[\"']", re.MULTILINE)


@dataclass
class PaperCode:
    """A catalog paper's reproduction source with its references into that paper located."""
    paper: object                      # the catalog Paper
    view: CodeView
    main: bool                         # the module's own PAPER (unqualified references are its)
    structure: object | None           # the PDF's PaperStructure; None without a PDF
    checked: list[CheckedRef]          # its references with their places ([] without a PDF)

    @property
    def dangling(self) -> list[CheckedRef]:
        return [c for c in self.checked if c.place is None and not c.unsure]

    def place_of(self, ref: CodeRef) -> Place | None:
        return next((c.place for c in self.checked if c.ref == ref), None)


def paper_code(ws, paper, structure=None) -> PaperCode | None:
    """The reproduction code of `paper` (None when it links to no module's source), its
    references into this paper located in `structure` (the PDF's, when given)."""
    from workbench.catalog import WORKBENCH_PAGE, reproduction_file

    name = getattr(paper, "reproduction", None)
    if not name or name == WORKBENCH_PAGE:
        return None
    path = reproduction_file(name)
    if path is None:
        return None
    own = tuple(x for x in (getattr(paper, "arxiv", None), getattr(paper, "doi", None)) if x)
    view = code_view(name, path, own)
    found = _PAPER_LINE.search(view.source)
    main = found is not None and found.group(1) == paper.id
    checked = check(view, structure, paper.year, main) if structure is not None else []
    return PaperCode(paper, view, main, structure, checked)


def dangling_message(code: PaperCode, c: CheckedRef) -> str:
    """One line: 'resnet.py:421: Table 2: not in 1502.03167.pdf (its tables: none; ...)'."""
    have = inventory(code.structure).get(c.ref.kind, [])
    kinds = {"appendix": "appendices", "equation": "numbered equations"}
    what = kinds.get(c.ref.kind, c.ref.kind + "s")
    return (f"{code.view.path.name}:{c.ref.line}: {c.ref.text!r} points at {c.ref.label}, "
            f"which {code.structure.file_name} does not have (its {what}: "
            f"{', '.join(have) if have else 'none found'})")


# --- what changed along a citation edge ---------------------------------------------------------


@dataclass(frozen=True)
class BlockChange:
    """A block of the earlier paper's module and the later module's block that replaces it."""
    before: CodeBlock
    after: CodeBlock
    what: str                       # what the later paper changed, with its sections
    before_text: str = ""
    after_text: str = ""


def lineage(view: CodeView) -> dict[str, list[tuple[str, str, str]]]:
    """The module's `LINEAGE` literal: {earlier module: [(its block, this block, what changed)]},
    read with `ast.literal_eval` (never run); {} when absent or not of that shape."""
    if "_lineage" not in view.__dict__:  # parsed once per view
        view.__dict__["_lineage"] = _read_lineage(view.source)
    return view.__dict__["_lineage"]


def _read_lineage(source: str) -> dict[str, list[tuple[str, str, str]]]:
    for node in ast.parse(source).body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "LINEAGE"
                                                 for t in node.targets)):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return {}
            if isinstance(value, dict) and all(
                    isinstance(k, str) and isinstance(v, list) and all(
                        isinstance(x, tuple) and len(x) == 3 and all(isinstance(y, str) for y in x)
                        for x in v) for k, v in value.items()):
                return value
            return {}
    return {}


def block_named(view: CodeView, name: str) -> CodeBlock | None:
    return next((b for b in view.blocks if b.name in (f"class {name}", f"def {name}", name)),
                None)


def changes_along(later: CodeView, earlier: CodeView) -> list[BlockChange]:
    """The corresponding blocks of two modules joined by a citation, as the later declares them
    (pairs naming a block that does not exist are left out)."""
    out = []
    for theirs, ours, what in lineage(later).get(earlier.name, []):
        before, after = block_named(earlier, theirs), block_named(later, ours)
        if before is not None and after is not None:
            out.append(BlockChange(before, after, what, earlier.text_of(before),
                                   later.text_of(after)))
    return out


def _view_of(paper) -> CodeView | None:
    """The parsed source of a catalog paper's reproduction module, cached while the file is
    unchanged (a Paper page asks once per cited paper); None without a module source."""
    from workbench.catalog import WORKBENCH_PAGE, reproduction_file

    name = getattr(paper, "reproduction", None)
    path = reproduction_file(name) if name and name != WORKBENCH_PAGE else None
    if path is None:
        return None
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    return _cached_view(name, str(path), stamp)


@functools.lru_cache(maxsize=128)
def _cached_view(name: str, path: str, stamp: int) -> CodeView:
    return code_view(name, path)


def edge_changes(later_paper, earlier_paper) -> list[BlockChange]:
    """What `later_paper`'s reproduction changed in `earlier_paper`'s, block by block; [] when
    either has no module source or the later declares no lineage to the earlier."""
    later = _view_of(later_paper)
    if later is None or getattr(earlier_paper, "reproduction", None) not in lineage(later):
        return []
    found = _PAPER_LINE.search(later.source)
    if not found or found.group(1) != later_paper.id:
        return []  # a module's lineage is its own paper's, not a variant's it also serves
    earlier = _view_of(earlier_paper)
    if earlier is None or earlier.name == later.name:
        return []
    return changes_along(later, earlier)
