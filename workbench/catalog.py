"""The catalog: load and validate `papers.yaml`.

`load(path)` returns an immutable, validated `Catalog` (see `catalog_model`) or raises
`CatalogError` listing *every* problem as `papers.yaml:LINE:COL: what to fix`; `check(path)` and
`validate_text(text)` return the problems instead. The YAML itself is read by `catalog_yaml`
(which refuses tags, anchors and aliases); `catalog_write.append_paper` adds an entry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from workbench.catalog_model import Catalog, Paper, Problem, Topic
from workbench.catalog_yaml import load_round_trip, node_pos
from workbench.errors import CatalogError
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

ARXIV_NEW_RE = re.compile(r"\d{4}\.\d{4,5}(v\d+)?")
ARXIV_OLD_RE = re.compile(r"[a-z][a-z-]*(\.[A-Z]{2})?/\d{7}(v\d+)?")
DOI_RE = re.compile(r"10\.\d{4,9}/\S+")


def is_arxiv_id(value: str) -> bool:
    return bool(ARXIV_NEW_RE.fullmatch(value) or ARXIV_OLD_RE.fullmatch(value))


def is_doi(value: str) -> bool:
    return bool(DOI_RE.fullmatch(value))


# --- validation --------------------------------------------------------------------------------


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
        line, col = node_pos(node, key, value=True)
        v.add(line, col, f"{what} must be a list, e.g. [{value}]")
        return None
    if not isinstance(value, list):
        line, col = node_pos(node, key, value=True)
        v.add(line, col, f"{what} must be a list of strings")
        return None
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            line, col = node_pos(value, index=i)
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
    doc = load_round_trip(text, v.add)
    if v.errors:
        return None, v.problems
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not isinstance(doc, CommentedMap):
        v.add(0, 0, "the catalog must be a mapping with 'topics:' and 'papers:' lists")
        return None, v.problems
    for key in doc:
        if key not in TOP_KEYS:
            line, col = node_pos(doc, key)
            v.add(line, col, f"unknown top-level key {_q(key)}{_suggest(key, TOP_KEYS)}; "
                  "allowed: topics, papers")

    # topics
    topics: list[Topic] = []
    raw_topics = doc.get("topics")
    if not isinstance(raw_topics, CommentedSeq):
        line, col = node_pos(doc, "topics") if "topics" in doc else (0, 0)
        v.add(line, col, "'topics:' must be a list of {id, title} entries")
        raw_topics = []
    seen_topics: dict[str, int] = {}
    for i, t in enumerate(raw_topics):
        line, col = node_pos(raw_topics, index=i)
        if not isinstance(t, CommentedMap):
            v.add(line, col, f"topic #{i + 1} must be a mapping with 'id' and 'title'")
            continue
        for key in t:
            if key not in TOPIC_KEYS:
                kl, kc = node_pos(t, key)
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
        line, col = node_pos(doc, "papers") if "papers" in doc else (0, 0)
        v.add(line, col, "'papers:' must be a list of paper entries")
        raw_papers = []
    repro_names = _known_reproductions()
    this_year = date.today().year
    seen_ids: dict[str, int] = {}
    papers: list[tuple[dict, CommentedMap]] = []
    for i, p in enumerate(raw_papers):
        line, col = node_pos(raw_papers, index=i)
        if not isinstance(p, CommentedMap):
            v.add(line, col, f"paper #{i + 1} must be a mapping (id, title, authors, ...)")
            continue
        ok = True
        for key in p:
            if key not in PAPER_KEYS:
                kl, kc = node_pos(p, key)
                v.add(kl, kc, f"unknown key {_q(key)}{_suggest(key, PAPER_KEYS)}; "
                      f"allowed: {', '.join(PAPER_KEYS)}")
                ok = False
        for key in REQUIRED_PAPER_KEYS:
            if p.get(key) in (None, "", []):
                v.add(line, col, f"paper #{i + 1} ({_q(p.get('id', 'no id'))[1:-1]}) is missing '{key}'")
                ok = False
        pid = p.get("id")
        if pid is not None:
            il, ic = node_pos(p, "id", value=True)
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
                kl, kc = node_pos(p, key, value=True)
                v.add(kl, kc, f"'{key}' must be a non-empty string")
                ok = False
            else:
                fields[key] = " ".join(val.split()) if key != "abstract" else val.strip()
        year = p.get("year")
        if year is not None:
            yl, yc = node_pos(p, "year", value=True)
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
            tl, tc = node_pos(p, "topic", value=True)
            if not isinstance(topic, str) or topic not in seen_topics:  # [] is unhashable
                v.add(tl, tc, f"unknown topic {_q(topic)}{_suggest(topic, seen_topics)}; "
                      f"known: {', '.join(seen_topics) or 'none'}")
                ok = False
            else:
                fields["topic"] = topic
        arxiv = p.get("arxiv")
        if arxiv is not None:
            al, ac = node_pos(p, "arxiv", value=True)
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
            dl, dc = node_pos(p, "doi", value=True)
            if not isinstance(doi, str) or not is_doi(doi.strip()):
                v.add(dl, dc, f"malformed DOI {doi!r}: expected e.g. 10.1109/CVPR.2016.90 "
                      "(no https://doi.org/ prefix)")
                ok = False
            else:
                fields["doi"] = doi.strip()
        repro = p.get("reproduction")
        if repro is not None:
            rl, rc = node_pos(p, "reproduction", value=True)
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
            cl, cc = node_pos(cites_node, index=j)
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


# --- loading -----------------------------------------------------------------------------------


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
