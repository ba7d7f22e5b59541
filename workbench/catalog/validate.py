"""The catalog: load and validate `papers.yaml`.

`load(path)` returns an immutable, validated `Catalog` (see `catalog.model`) or raises
`CatalogError` listing *every* problem as `papers.yaml:LINE:COL: what to fix`; `check(path)` and
`validate_text(text)` return the problems instead. The YAML itself is read by `catalog.yamltree`
(which refuses tags, anchors and aliases); `catalog.write.add_papers` adds entries.
"""

from __future__ import annotations

import os
import re
import stat
from datetime import date
from pathlib import Path

from workbench.catalog import cache as catalog_cache
from workbench.catalog.model import Catalog, Paper, Problem, Topic
from workbench.catalog.yamltree import YMap, YSeq, load_tree, node_pos
from workbench.errors import CatalogError, did_you_mean
from workbench.workspace import MAX_SLUG_LEN, SLUG_RE

PAPER_KEYS = (
    "id", "title", "authors", "year", "venue", "arxiv", "doi", "topic", "tags",
    "reproduction", "cites", "abstract", "pdf", "url",
)
REQUIRED_PAPER_KEYS = ("id", "title", "authors", "year", "topic")
TOPIC_KEYS = ("id", "title")
TOP_KEYS = ("topics", "papers")
MIN_YEAR = 1900
MAX_FILE_BYTES = 20_000_000  # 20,000 papers with abstracts; checked in seconds

ARXIV_NEW_RE = re.compile(r"\d{4}\.\d{4,5}(v\d+)?")
ARXIV_OLD_RE = re.compile(r"[a-z][a-z-]*(\.[A-Z]{2})?/\d{7}(v\d+)?")
DOI_RE = re.compile(r"10\.\d{4,9}/\S+")
_PAPER_KEY_SET = frozenset(PAPER_KEYS)
# what later code can use: (key, most characters) for texts, (key, (most items, most characters
# per item)) for lists; a title or an author name longer than this is a mistake, not a paper
_TEXT_LIMITS = (("title", 500), ("venue", 200), ("abstract", 20_000), ("pdf", 500),
                ("url", 2_000))
_LIST_LIMITS = (("authors", (3_000, 200)), ("tags", (100, 100)), ("cites", (5_000, 200)))
_ABSTRACT_CONTROLS = "\n\t"
_HTTP_RE = re.compile(r"https?://[^\s/]", re.IGNORECASE)


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


_suggest = did_you_mean


def _str_list(value, v: _Validator, node, key: str, limit: tuple[int, int]
              ) -> tuple[str, ...] | None:
    """A list of non-empty one-line strings, at most `limit` = (items, characters each)."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list):
        line, col = node_pos(node, key, value=True)
        hint = f", e.g. [{value:.60}]" if isinstance(value, str) else " of strings"
        v.add(line, col, f"{key} must be a list{hint}")
        return None
    if len(value) > limit[0]:
        line, col = node_pos(node, key, value=True)
        v.add(line, col, f"{key} has {len(value)} items; at most {limit[0]} are allowed")
        return None
    out = []
    for i, item in enumerate(value):
        item = item.strip() if isinstance(item, str) else None
        problem = _text_problem(f"{key}[{i}]", item, limit[1]) if item else \
            f"{key}[{i}] must be a non-empty string, got {value[i]!r:.60}"
        if problem:
            line, col = node_pos(value, index=i)
            v.add(line, col, problem)
            return None
        out.append(item)
    return tuple(out)


def _text_problem(what: str, text: str, limit: int) -> str | None:
    """Why a catalog text cannot be used later (too long, control characters, a URL that is not
    http(s), a pdf path leaving the workspace), or None."""
    if len(text) > limit:
        return f"'{what}' is {len(text):,} characters long; at most {limit:,} are allowed"
    allowed = _ABSTRACT_CONTROLS if what == "abstract" else ""
    bad = None if text.isprintable() else \
        next((ch for ch in text if not ch.isprintable() and ch not in allowed), None)
    if bad is not None:
        return f"'{what}' holds the control character {bad!r}; delete it"
    if what == "url" and not _HTTP_RE.match(text):
        return f"url {_q(text[:80])} must start with http:// or https://"
    if what == "pdf":
        if text.startswith(("/", "~", "\\")) or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", text) \
                or ".." in Path(text).parts:
            return (f"pdf {_q(text[:80])} must be a path inside the workspace, relative to "
                    "papers.yaml, e.g. pdfs/resnet.pdf")
    return None


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


def validate_text(text: str, file: str = "papers.yaml", context: Catalog | None = None
                  ) -> tuple[Catalog | None, list[Problem]]:
    """Validate catalog text. Returns (catalog or None, problems incl. warnings).

    With `context` (a valid catalog), `text` holds only new entries (`papers:` and no topics):
    they are checked against the context's topics, ids and years, and the catalog returned holds
    just them. Adding papers to a large catalog thus checks the new lines, not the whole file.
    """
    v = _Validator(file)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        v.add(0, 0, f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB; is this the catalog?")
        return None, v.problems
    if "\x00" in text:
        v.add(0, 0, "file contains NUL bytes; it is not a text YAML file")
        return None, v.problems
    doc = load_tree(text, v.add)
    if v.errors:
        return None, v.problems
    if not isinstance(doc, YMap):
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
    if context is not None and raw_topics is None:
        raw_topics = YSeq()
        raw_topics.lc = doc.lc
        topics = list(context.topics)
    elif not isinstance(raw_topics, YSeq):
        line, col = node_pos(doc, "topics") if "topics" in doc else (0, 0)
        v.add(line, col, "'topics:' must be a list of {id, title} entries")
        raw_topics = []
    seen_topics: dict[str, int] = {t.id: 0 for t in topics}
    for i, t in enumerate(raw_topics):
        line, col = node_pos(raw_topics, index=i)
        if not isinstance(t, YMap):
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

    # papers, first pass: fields (positions are looked up only for a problem: 20,000 papers)
    raw_papers = doc.get("papers")
    if raw_papers is None and "papers" in doc:
        raw_papers = []  # `papers:` with no entries yet
    elif not isinstance(raw_papers, YSeq):
        line, col = node_pos(doc, "papers") if "papers" in doc else (0, 0)
        v.add(line, col, "'papers:' must be a list of paper entries")
        raw_papers = []
    repro_names = _known_reproductions()
    max_year = date.today().year + 1
    seen_ids: dict[str, int] = {p.id: p.line for p in context.papers} if context else {}
    papers: list[tuple[dict, YMap, bool]] = []
    item_pos = raw_papers.lc.items if isinstance(raw_papers, YSeq) else []
    for i, p in enumerate(raw_papers):
        line, col = item_pos[i]
        if not isinstance(p, YMap):
            v.add(line, col, f"paper #{i + 1} must be a mapping (id, title, authors, ...)")
            continue

        def bad(key, message, p=p):
            kl, kc = node_pos(p, key, value=True)
            v.add(kl, kc, message)

        ok = True
        if not _PAPER_KEY_SET.issuperset(p):
            for key in p:
                if key not in _PAPER_KEY_SET:
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
            if not isinstance(pid, str) or not SLUG_RE.fullmatch(pid) or len(pid) > MAX_SLUG_LEN:
                bad("id", f"id {pid!r:.100} is not a slug: use lowercase letters, digits and "
                    f"'-', at most {MAX_SLUG_LEN} characters (e.g. '{_slug_hint(pid)}')")
                ok = False
            elif pid in seen_ids:
                bad("id", f"duplicate id '{pid}' (first used on line {seen_ids[pid]}); "
                    "ids must be unique")
                ok = False
            else:
                seen_ids[pid] = line + 1
        fields: dict = {"line": line + 1}
        for key, limit in _TEXT_LIMITS:
            val = p.get(key)
            if val is None:
                continue
            if not isinstance(val, str) or not val.strip():
                bad(key, f"'{key}' must be a non-empty string")
                ok = False
                continue
            val = " ".join(val.split()) if key != "abstract" else val.strip()
            problem = _text_problem(key, val, limit)
            if problem:
                bad(key, problem)
                ok = False
            else:
                fields[key] = val
        year = p.get("year")
        if year is not None:
            if isinstance(year, bool) or not isinstance(year, int):
                bad("year", f"year must be a whole number like 2015, got {year!r:.40}")
                ok = False
            elif not MIN_YEAR <= year <= max_year:
                bad("year", f"year {year} is out of range {MIN_YEAR}..{max_year}")
                ok = False
            else:
                fields["year"] = year
        topic = p.get("topic")
        if topic is not None:
            if not isinstance(topic, str) or topic not in seen_topics:  # [] is unhashable
                bad("topic", f"unknown topic {_q(topic)}{_suggest(topic, seen_topics)}; "
                    f"known: {', '.join(seen_topics) or 'none'}")
                ok = False
            else:
                fields["topic"] = topic
        arxiv = p.get("arxiv")
        if arxiv is not None:
            if isinstance(arxiv, float | int):
                al, ac = node_pos(p, "arxiv", value=True)
                raw = _raw_token(text, al, ac) or str(arxiv)
                v.add(al, ac, f"arXiv id {raw} was read as a number: quote it, "
                      f"e.g. arxiv: \"{raw}\"")
                ok = False
            elif not isinstance(arxiv, str) or not is_arxiv_id(arxiv.strip()):
                bad("arxiv", f"malformed arXiv id {arxiv!r:.60}: expected e.g. \"1512.03385\" "
                    "or \"cs/0112017\"")
                ok = False
            else:
                fields["arxiv"] = arxiv.strip()
        doi = p.get("doi")
        if doi is not None:
            if not isinstance(doi, str) or not is_doi(doi.strip()) or len(doi) > 300:
                bad("doi", f"malformed DOI {doi!r:.60}: expected e.g. 10.1109/CVPR.2016.90 "
                    "(no https://doi.org/ prefix)")
                ok = False
            else:
                fields["doi"] = doi.strip()
        repro = p.get("reproduction")
        if repro is not None:
            if not isinstance(repro, str) or repro not in repro_names:
                bad("reproduction", f"unknown reproduction {_q(repro)}"
                    f"{_suggest(repro, repro_names)}; available: "
                    f"{', '.join(sorted(repro_names)) or 'none'}")
                ok = False
            else:
                fields["reproduction"] = repro
        for key, limit in _LIST_LIMITS:
            lst = _str_list(p.get(key), v, p, key, limit)
            if lst is None:
                ok = False
            else:
                fields[key] = lst
        if isinstance(pid, str) and seen_ids.get(pid) == line + 1:
            fields["id"] = pid
            papers.append((fields, p, ok))

    # papers, second pass: cross-references
    years = {p.id: p.year for p in context.papers} if context else {}
    years.update((f["id"], f.get("year")) for f, _, _ in papers)
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
    raw, problem = read_catalog_bytes(path)
    if raw is None:
        return None, [problem]
    catalog, problems = check_bytes(raw, path)
    if catalog is None and _wait_until_quiet(path):
        # an editor was saving it (truncate, then write): judge the file it saved, not a half
        raw, problem = read_catalog_bytes(path)
        if raw is None:
            return None, [problem]
        catalog, problems = check_bytes(raw, path)
    return catalog, problems


def _wait_until_quiet(path: Path, quiet_s: float = 0.5, most_s: float = 5.0) -> bool:
    """True after waiting for a file changed less than `quiet_s` ago to stay unchanged that
    long (at most `most_s`); False at once for a file nobody is writing."""
    import time

    deadline = time.monotonic() + most_s
    waited = False
    while time.monotonic() < deadline:
        try:
            age = time.time() - os.stat(path).st_mtime
        except OSError:
            return waited
        if age >= quiet_s:
            return waited
        waited = True
        time.sleep(0.05)
    return waited


def read_catalog_bytes(path: Path) -> tuple[bytes | None, Problem | None]:
    """The file's bytes, refusing a file over the size limit before reading it."""
    name = path.name
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # opening a FIFO would wait forever
            what = "a folder" if path.is_dir() else "not a regular file"
            return None, Problem(name, 1, 1, f"{path} is {what}; the catalog is a YAML file")
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                return None, Problem(name, 1, 1, f"file is {size / 1e6:.0f} MB, larger than "
                                     f"{MAX_FILE_BYTES // 1_000_000} MB; is this the catalog?")
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, Problem(name, 1, 1, f"no catalog at {path}; create papers.yaml or pass "
                             "--workspace")
    except OSError as exc:
        return None, Problem(name, 1, 1, f"cannot read {path}: {exc.strerror}")
    if len(raw) > MAX_FILE_BYTES:  # it grew while being read
        return None, Problem(name, 1, 1, f"file is larger than {MAX_FILE_BYTES // 1_000_000} "
                             "MB; is this the catalog?")
    return raw, None


def check_bytes(raw: bytes, path: Path) -> tuple[Catalog | None, list[Problem]]:
    """`check` of bytes already read (the catalog writer validates exactly what it read)."""
    name = path.name
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return None, [Problem(name, line, 1, f"not UTF-8 text (byte {exc.start}); save the "
                              "file as UTF-8")]
    catalog, problems = catalog_cache.validated(raw, name, lambda: validate_text(text, name))
    if catalog is not None:
        object.__setattr__(catalog, "path", path)
    return catalog, problems


def load(path: str | Path) -> Catalog:
    """Load and validate; raise `CatalogError` listing every error (warnings kept on the result)."""
    catalog, problems = check(path)
    if catalog is None:
        raise CatalogError([str(p) for p in problems if p.severity == "error"])
    return catalog
