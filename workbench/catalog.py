"""The catalog: load, validate and save `papers.yaml`.

`load(path)` returns an immutable, validated `Catalog` or raises `CatalogError` listing *every*
problem as `papers.yaml:LINE:COL: what to fix`. `append_paper` writes a new entry back without
touching a byte of the rest of the file (comments, order, formatting).

Why ruamel.yaml: it is the maintained round-trip YAML library (keeps comments and order) and
records line/column for every node, which the error messages need. Its round-trip loader builds
only plain maps, lists and scalars; tags and anchors/aliases are refused outright, so a
catalog can neither run code nor explode in size ("billion laughs").
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from workbench.errors import CatalogError
from workbench.fileio import atomic_write_text
from workbench.workspace import MAX_SLUG_LEN, SLUG_RE

PAPER_KEYS = (
    "id", "title", "authors", "year", "venue", "arxiv", "doi", "topic", "tags",
    "reproduction", "cites", "abstract", "pdf", "url",
)
REQUIRED_PAPER_KEYS = ("id", "title", "authors", "year", "topic")
TOPIC_KEYS = ("id", "title")
TOP_KEYS = ("topics", "papers")
MIN_YEAR = 1900
MAX_FILE_BYTES = 5_000_000
MAX_DEPTH = 20  # nested collections; the catalog's own structure is 4 deep

ARXIV_NEW_RE = re.compile(r"\d{4}\.\d{4,5}(v\d+)?")
ARXIV_OLD_RE = re.compile(r"[a-z][a-z-]*(\.[A-Z]{2})?/\d{7}(v\d+)?")
DOI_RE = re.compile(r"10\.\d{4,9}/\S+")


def is_arxiv_id(value: str) -> bool:
    return bool(ARXIV_NEW_RE.fullmatch(value) or ARXIV_OLD_RE.fullmatch(value))


def is_doi(value: str) -> bool:
    return bool(DOI_RE.fullmatch(value))


# --- models ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    id: str
    title: str


@dataclass(frozen=True)
class Paper:
    id: str
    title: str
    authors: tuple[str, ...]
    year: int
    topic: str
    venue: str | None = None
    arxiv: str | None = None
    doi: str | None = None
    tags: tuple[str, ...] = ()
    reproduction: str | None = None
    cites: tuple[str, ...] = ()
    abstract: str | None = None
    pdf: str | None = None
    url: str | None = None
    line: int = 0  # where the entry starts in papers.yaml (1-based), for messages

    @property
    def first_author(self) -> str:
        return self.authors[0] if self.authors else ""

    @property
    def arxiv_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.arxiv}" if self.arxiv else None

    @property
    def doi_url(self) -> str | None:
        return f"https://doi.org/{self.doi}" if self.doi else None

    @property
    def short(self) -> str:
        """'He et al. 2015' style label."""
        if not self.authors:
            return str(self.year)
        surname = self.authors[0].split()[-1]
        etal = " et al." if len(self.authors) > 2 else (
            f" & {self.authors[1].split()[-1]}" if len(self.authors) == 2 else "")
        return f"{surname}{etal} {self.year}"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    col: int
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {prefix}{self.message}"


@dataclass(frozen=True)
class Catalog:
    topics: tuple[Topic, ...]
    papers: tuple[Paper, ...]
    path: Path | None = None
    warnings: tuple[Problem, ...] = ()
    by_id: Mapping[str, Paper] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "by_id", MappingProxyType({p.id: p for p in self.papers}))

    def __reduce__(self):
        # by_id is a read-only view rebuilt from `papers`; pickle (st.cache_data) the rest
        return (Catalog, (self.topics, self.papers, self.path, self.warnings))

    def __contains__(self, paper_id: str) -> bool:
        return paper_id in self.by_id

    def __len__(self) -> int:
        return len(self.papers)

    def get(self, paper_id: str) -> Paper | None:
        return self.by_id.get(paper_id)

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def in_topic(self, topic_id: str) -> list[Paper]:
        return [p for p in self.papers if p.topic == topic_id]

    def cited_by(self, paper_id: str) -> list[Paper]:
        """Catalog papers whose `cites` list `paper_id`."""
        return [p for p in self.papers if paper_id in p.cites]

    def references(self, paper_id: str) -> list[Paper]:
        paper = self.by_id.get(paper_id)
        return [self.by_id[c] for c in paper.cites if c in self.by_id] if paper else []

    @property
    def tags(self) -> list[str]:
        return sorted({t for p in self.papers for t in p.tags})


# --- loading and validation --------------------------------------------------------------------


def _yaml_rt():
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 100
    y.indent(mapping=2, sequence=4, offset=2)
    return y


class _Validator:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line0: int, col0: int, message: str, severity: str = "error"):
        self.problems.append(Problem(self.file, line0 + 1, col0 + 1, message, severity))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def _pos(node, key=None, index=None, value=False) -> tuple[int, int]:
    """0-based (line, col) of a ruamel node, of one of its keys/values, or of a list item."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return (0, 0)
    try:
        if index is not None:
            return tuple(lc.item(index))
        if key is not None:
            return tuple(lc.value(key) if value else lc.key(key))
        return (lc.line, lc.col)
    except (KeyError, IndexError, TypeError, AttributeError):
        return (lc.line, lc.col)


def _refuse_tags_and_aliases(text: str, v: _Validator) -> bool:
    """Scan parser events; refuse explicit tags and anchors/aliases. True if clean."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        ScalarEvent,
    )

    clean = True
    depth = 0
    for ev in YAML(typ="safe", pure=True).parse(io.StringIO(text)):
        mark = ev.start_mark
        depth += isinstance(ev, CollectionStartEvent) - isinstance(ev, CollectionEndEvent)
        if depth > MAX_DEPTH:  # the scanner is quadratic in flow depth: '[' * 5000 takes minutes
            v.add(mark.line, mark.column, f"YAML nesting is deeper than {MAX_DEPTH} levels; "
                  "a catalog needs 4 (papers: - authors: [...])")
            return False
        if isinstance(ev, AliasEvent):
            v.add(mark.line, mark.column,
                  f"alias '*{ev.anchor}' is not allowed in the catalog: write the value out")
            clean = False
        elif isinstance(ev, ScalarEvent | CollectionStartEvent):
            if getattr(ev, "anchor", None):
                v.add(mark.line, mark.column,
                      f"anchor '&{ev.anchor}' is not allowed in the catalog: remove it")
                clean = False
            tag = getattr(ev, "tag", None)
            implicit = getattr(ev, "implicit", (True, True))
            explicit_scalar = isinstance(ev, ScalarEvent) and tag and not any(implicit)
            explicit_coll = isinstance(ev, CollectionStartEvent) and tag and not implicit
            if explicit_scalar or explicit_coll:
                v.add(mark.line, mark.column,
                      f"YAML tag '{tag}' is not allowed in the catalog: remove it")
                clean = False
    return clean


def _parse(text: str, v: _Validator):
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        if not _refuse_tags_and_aliases(text, v):
            return None
        return _yaml_rt().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if exc.context and exc.context_mark and exc.problem_mark:
            what += f" ({exc.context} at line {exc.context_mark.line + 1})"
        line, col = (mark.line, mark.column) if mark else (0, 0)
        v.add(line, col, f"YAML syntax error: {what}; fix the indentation or quoting")
    except YAMLError as exc:  # pragma: no cover - ruamel raises Marked errors for text input
        v.add(0, 0, f"YAML error: {str(exc).splitlines()[0]}")
    except RecursionError:
        v.add(0, 0, "YAML nesting is too deep")
    return None


def _q(value) -> str:
    """'value' for a message; repr() when it holds a newline or other control character, so
    every problem stays one line."""
    text = str(value)
    return f"'{text}'" if text.isprintable() else repr(text)


def _suggest(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _str_list(value, v: _Validator, node, key, what: str) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        line, col = _pos(node, key, value=True)
        v.add(line, col, f"{what} must be a list, e.g. [{value}]")
        return None
    if not isinstance(value, list):
        line, col = _pos(node, key, value=True)
        v.add(line, col, f"{what} must be a list of strings")
        return None
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            line, col = _pos(value, index=i)
            v.add(line, col, f"{what}[{i}] must be a non-empty string, got {item!r}")
            return None
        out.append(item.strip())
    return tuple(out)


def _known_reproductions() -> set[str]:
    """Names of the reproduction modules (files declaring `PAPER = ...`), found without importing
    them: the catalog must stay usable without torch."""
    import importlib.util

    spec = importlib.util.find_spec("reproductions")
    if spec is None or not spec.submodule_search_locations:
        return set()
    names = set()
    paper_line = re.compile(r"^PAPER\s*(:[^=]*)?=", re.MULTILINE)
    for loc in spec.submodule_search_locations:
        for f in Path(loc).glob("*.py"):
            # a reproduction module declares the paper it reproduces: `PAPER = "resnet"`
            if not f.name.startswith("_") and paper_line.search(f.read_text("utf-8", "replace")):
                names.add(f.stem)
    return names


def validate_text(text: str, file: str = "papers.yaml") -> tuple[Catalog | None, list[Problem]]:
    """Validate catalog text. Returns (catalog or None, problems incl. warnings)."""
    v = _Validator(file)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        v.add(0, 0, f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB; is this the catalog?")
        return None, v.problems
    if "\x00" in text:
        v.add(0, 0, "file contains NUL bytes; it is not a text YAML file")
        return None, v.problems
    doc = _parse(text, v)
    if v.errors:
        return None, v.problems
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not isinstance(doc, CommentedMap):
        v.add(0, 0, "the catalog must be a mapping with 'topics:' and 'papers:' lists")
        return None, v.problems
    for key in doc:
        if key not in TOP_KEYS:
            line, col = _pos(doc, key)
            v.add(line, col, f"unknown top-level key {_q(key)}{_suggest(key, TOP_KEYS)}; "
                  "allowed: topics, papers")

    # topics
    topics: list[Topic] = []
    raw_topics = doc.get("topics")
    if not isinstance(raw_topics, CommentedSeq):
        line, col = _pos(doc, "topics") if "topics" in doc else (0, 0)
        v.add(line, col, "'topics:' must be a list of {id, title} entries")
        raw_topics = []
    seen_topics: dict[str, int] = {}
    for i, t in enumerate(raw_topics):
        line, col = _pos(raw_topics, index=i)
        if not isinstance(t, CommentedMap):
            v.add(line, col, f"topic #{i + 1} must be a mapping with 'id' and 'title'")
            continue
        for key in t:
            if key not in TOPIC_KEYS:
                kl, kc = _pos(t, key)
                v.add(kl, kc, f"unknown topic key {_q(key)}{_suggest(key, TOPIC_KEYS)}")
        tid, title = t.get("id"), t.get("title")
        if not isinstance(tid, str) or not SLUG_RE.fullmatch(tid):
            v.add(line, col, f"topic id {tid!r} must be a slug like 'cnns'")
            continue
        if tid in seen_topics:
            v.add(line, col, f"duplicate topic id '{tid}' (first on line {seen_topics[tid]})")
            continue
        seen_topics[tid] = line + 1
        if not isinstance(title, str) or not title.strip():
            v.add(line, col, f"topic '{tid}' needs a non-empty 'title'")
            continue
        topics.append(Topic(tid, title.strip()))

    # papers, first pass: fields
    raw_papers = doc.get("papers")
    if raw_papers is None and "papers" in doc:
        raw_papers = []  # `papers:` with no entries yet
    elif not isinstance(raw_papers, CommentedSeq):
        line, col = _pos(doc, "papers") if "papers" in doc else (0, 0)
        v.add(line, col, "'papers:' must be a list of paper entries")
        raw_papers = []
    repro_names = _known_reproductions()
    this_year = date.today().year
    seen_ids: dict[str, int] = {}
    papers: list[tuple[dict, CommentedMap]] = []
    for i, p in enumerate(raw_papers):
        line, col = _pos(raw_papers, index=i)
        if not isinstance(p, CommentedMap):
            v.add(line, col, f"paper #{i + 1} must be a mapping (id, title, authors, ...)")
            continue
        ok = True
        for key in p:
            if key not in PAPER_KEYS:
                kl, kc = _pos(p, key)
                v.add(kl, kc, f"unknown key {_q(key)}{_suggest(key, PAPER_KEYS)}; "
                      f"allowed: {', '.join(PAPER_KEYS)}")
                ok = False
        for key in REQUIRED_PAPER_KEYS:
            if p.get(key) in (None, "", []):
                v.add(line, col, f"paper #{i + 1} ({_q(p.get('id', 'no id'))[1:-1]}) is missing '{key}'")
                ok = False
        pid = p.get("id")
        if pid is not None:
            il, ic = _pos(p, "id", value=True)
            if not isinstance(pid, str) or not SLUG_RE.fullmatch(pid) or len(pid) > MAX_SLUG_LEN:
                v.add(il, ic, f"id {pid!r} is not a slug: use lowercase letters, digits and '-' "
                      f"(e.g. '{_slug_hint(pid)}')")
                ok = False
            elif pid in seen_ids:
                v.add(il, ic, f"duplicate id '{pid}' (first used on line {seen_ids[pid]}); "
                      "ids must be unique")
                ok = False
            else:
                seen_ids[pid] = line + 1
        fields: dict = {"line": line + 1}
        for key in ("title", "venue", "abstract", "pdf", "url"):
            val = p.get(key)
            if val is None:
                continue
            if not isinstance(val, str) or not val.strip():
                kl, kc = _pos(p, key, value=True)
                v.add(kl, kc, f"'{key}' must be a non-empty string")
                ok = False
            else:
                fields[key] = " ".join(val.split()) if key != "abstract" else val.strip()
        year = p.get("year")
        if year is not None:
            yl, yc = _pos(p, "year", value=True)
            if isinstance(year, bool) or not isinstance(year, int):
                v.add(yl, yc, f"year must be a whole number like 2015, got {year!r}")
                ok = False
            elif not MIN_YEAR <= year <= this_year + 1:
                v.add(yl, yc, f"year {year} is out of range {MIN_YEAR}..{this_year + 1}")
                ok = False
            else:
                fields["year"] = year
        topic = p.get("topic")
        if topic is not None:
            tl, tc = _pos(p, "topic", value=True)
            if not isinstance(topic, str) or topic not in seen_topics:  # [] is unhashable
                v.add(tl, tc, f"unknown topic {_q(topic)}{_suggest(topic, seen_topics)}; "
                      f"known: {', '.join(seen_topics) or 'none'}")
                ok = False
            else:
                fields["topic"] = topic
        arxiv = p.get("arxiv")
        if arxiv is not None:
            al, ac = _pos(p, "arxiv", value=True)
            if isinstance(arxiv, float | int):
                raw = _raw_token(text, al, ac) or str(arxiv)
                v.add(al, ac, f"arXiv id {raw} was read as a number: quote it, "
                      f"e.g. arxiv: \"{raw}\"")
                ok = False
            elif not isinstance(arxiv, str) or not is_arxiv_id(arxiv.strip()):
                v.add(al, ac, f"malformed arXiv id {arxiv!r}: expected e.g. \"1512.03385\" "
                      "or \"cs/0112017\"")
                ok = False
            else:
                fields["arxiv"] = arxiv.strip()
        doi = p.get("doi")
        if doi is not None:
            dl, dc = _pos(p, "doi", value=True)
            if not isinstance(doi, str) or not is_doi(doi.strip()):
                v.add(dl, dc, f"malformed DOI {doi!r}: expected e.g. 10.1109/CVPR.2016.90 "
                      "(no https://doi.org/ prefix)")
                ok = False
            else:
                fields["doi"] = doi.strip()
        repro = p.get("reproduction")
        if repro is not None:
            rl, rc = _pos(p, "reproduction", value=True)
            if not isinstance(repro, str) or repro not in repro_names:
                v.add(rl, rc, f"unknown reproduction {_q(repro)}{_suggest(repro, repro_names)}; "
                      f"available: {', '.join(sorted(repro_names)) or 'none'}")
                ok = False
            else:
                fields["reproduction"] = repro
        for key in ("authors", "tags", "cites"):
            lst = _str_list(p.get(key), v, p, key, key)
            if lst is None:
                ok = False
            else:
                fields[key] = lst
        if isinstance(pid, str) and pid in seen_ids and seen_ids[pid] == line + 1:
            fields["id"] = pid
            papers.append((fields, p, ok))

    # papers, second pass: cross-references
    years = {f["id"]: f.get("year") for f, _, _ in papers}
    all_ids = set(seen_ids)
    good: list[Paper] = []
    for fields, node, ok in papers:
        cites_node = node.get("cites")
        for j, target in enumerate(fields.get("cites", ())):
            cl, cc = _pos(cites_node, index=j)
            if target == fields["id"]:
                v.add(cl, cc, f"'{fields['id']}' cites itself; remove it from its 'cites'")
                ok = False
            elif target not in all_ids:
                v.add(cl, cc, f"'{fields['id']}' cites {_q(target)}, which is not in the catalog"
                      f"{_suggest(target, all_ids)}")
                ok = False
            elif years.get(target) and fields.get("year") and \
                    years[target] - fields["year"] >= 2:
                v.add(cl, cc, f"'{fields['id']}' ({fields['year']}) cites '{target}' "
                      f"({years[target]}), published {years[target] - fields['year']} years "
                      "later; fine for a revised arXiv version, otherwise check the edge",
                      "warning")
        if ok:
            good.append(Paper(**fields))
    v.problems.sort(key=lambda pr: (pr.line, pr.col))
    if v.errors:
        return None, v.problems
    catalog = Catalog(tuple(topics), tuple(good), warnings=tuple(v.warnings))
    return catalog, v.problems


def _raw_token(text: str, line0: int, col0: int) -> str:
    """The scalar as written in the file at (line, col), e.g. '1409.1550' before float parsing."""
    lines = text.splitlines()
    if 0 <= line0 < len(lines):
        token = lines[line0][col0:].split("#")[0].strip()
        return token
    return ""


def _slug_hint(value) -> str:
    from workbench.workspace import slugify

    return slugify(str(value)) if value is not None else "my-paper"


def check(path: str | Path) -> tuple[Catalog | None, list[Problem]]:
    """Validate the catalog file at `path`: (catalog or None, every problem found)."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, [Problem(name, 1, 1, f"no catalog at {path}; create papers.yaml or pass "
                              "--workspace")]
    except OSError as exc:
        return None, [Problem(name, 1, 1, f"cannot read {path}: {exc.strerror}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, 1, 1, f"not UTF-8 text (byte {exc.start}); save the file "
                              "as UTF-8")]
    catalog, problems = validate_text(text, name)
    if catalog is not None:
        object.__setattr__(catalog, "path", path)
    return catalog, problems


def load(path: str | Path) -> Catalog:
    """Load and validate; raise `CatalogError` listing every error (warnings kept on the result)."""
    catalog, problems = check(path)
    if catalog is None:
        raise CatalogError([str(p) for p in problems if p.severity == "error"])
    return catalog


# --- saving ------------------------------------------------------------------------------------


def render_entry(entry: Mapping, dash_col: int = 2) -> str:
    """YAML text for one paper entry, as a block-sequence item whose '-' sits at `dash_col`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    m = CommentedMap()
    for key in PAPER_KEYS:
        val = entry.get(key)
        if val in (None, "", (), []):
            continue
        if key == "arxiv":
            val = DoubleQuotedScalarString(val)
        elif key == "abstract":
            val = _folded(" ".join(str(val).split()), 88)
        elif key in ("authors", "tags", "cites"):
            seq = CommentedSeq(list(val))
            seq.fa.set_flow_style()
            val = seq
        m[key] = val
    buf = io.StringIO()
    _yaml_rt().dump([m], buf)
    text = buf.getvalue()
    shift = dash_col - 2
    lines = text.splitlines(keepends=True)
    if shift > 0:
        lines = [(" " * shift + ln) if ln.strip() else ln for ln in lines]
    elif shift < 0:
        lines = [ln[-shift:] if ln[: -shift].strip() == "" else ln for ln in lines]
    return "".join(lines)


def _folded(text: str, width: int):
    """A `>-` block scalar whose lines fold at spaces near `width` (the value stays one line)."""
    from ruamel.yaml.scalarstring import FoldedScalarString

    folded = FoldedScalarString(text)
    folds, line_start, last_space = [], 0, None
    for i, ch in enumerate(text):
        if ch == " ":
            if i - line_start > width and last_space is not None:
                folds.append(last_space)
                line_start = last_space + 1
            last_space = i
    if len(text) - line_start > width and last_space is not None and last_space > line_start:
        folds.append(last_space)
    folded.fold_pos = folds
    return folded


def append_paper(path: str | Path, entry: Mapping) -> Paper:
    """Add `entry` to the catalog at `path` after the last paper of its topic.

    Only the new lines are inserted: every other byte of the file is kept. The result is
    validated before it replaces the file (atomically); on any problem the file is untouched
    and `CatalogError` says why.
    """
    path = Path(path)
    catalog = load(path)
    if entry.get("id") in catalog:
        raise CatalogError([f"{path.name}: id '{entry['id']}' is already in the catalog"])
    text = path.read_text(encoding="utf-8")
    doc = _yaml_rt().load(text)
    seq = doc["papers"]
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if seq is None or not len(seq):
        # an empty list (`papers: []` or `papers:`): the entry becomes its first item
        key_line = _pos(doc, "papers")[0]
        lines[key_line] = "papers:\n"
        new_text = "".join(lines) + render_entry(entry, 2)
        new_catalog, problems = validate_text(new_text, path.name)
        if new_catalog is None:
            raise CatalogError([str(p) for p in problems if p.severity == "error"])
        atomic_write_text(path, new_text)
        return new_catalog.by_id[entry["id"]]
    if len(seq):
        first_line, _ = _pos(seq, index=0)
        dash_col = lines[first_line].index("-") if "-" in lines[first_line] else 2
    else:
        dash_col = 2
    same_topic = [i for i, p in enumerate(seq) if p.get("topic") == entry.get("topic")]
    last = same_topic[-1] if same_topic else len(seq) - 1
    if last < 0:
        insert_at = len(lines)
    elif last + 1 < len(seq):
        insert_at = _pos(seq, index=last + 1)[0]
        # keep the next group's comment heading (and blank lines) attached to the next group
        while insert_at > 0 and (lines[insert_at - 1].strip().startswith("#")
                                 or not lines[insert_at - 1].strip()):
            insert_at -= 1
    else:
        insert_at = len(lines)
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
    new_text = "".join(lines[:insert_at]) + render_entry(entry, dash_col) + \
        "".join(lines[insert_at:])
    new_catalog, problems = validate_text(new_text, path.name)
    if new_catalog is None:
        raise CatalogError([str(p) for p in problems if p.severity == "error"])
    atomic_write_text(path, new_text)
    return new_catalog.by_id[entry["id"]]
