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
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from workbench.catalog import cache as catalog_cache
from workbench.catalog.model import (
    RELATIONS,
    WORKBENCH_PAGE,
    Catalog,
    Paper,
    Problem,
    Topic,
    known_reproductions,
    reproduction_file,
    venue_years,
)
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

    def add_at(self, node, key: str, message: str):
        """An error at the value of `node[key]`."""
        self.add(*node_pos(node, key, value=True), message)

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
        one_line = " ".join(value.split()) if isinstance(value, str) else ""
        hint = f", e.g. [{one_line:.60}]" if one_line else " of strings"
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


def validate_text(text: str, file: str = "papers.yaml", context: Catalog | None = None
                  ) -> tuple[Catalog | None, list[Problem]]:
    """Validate catalog text. Returns (catalog or None, problems incl. warnings).

    With `context` (a valid catalog), `text` holds only new entries (`papers:` and no topics):
    they are checked against the context's topics, ids and years, and the catalog returned holds
    just them. Adding papers to a large catalog thus checks the new lines, not the whole file.
    """
    v = _Validator(file)
    doc = _read_document(text, v)
    if doc is None:
        return None, v.problems
    _check_top_keys(doc, v)
    topics, topic_ids = _check_topics(doc, context, v)
    rules = _PaperRules(text, topic_ids, known_reproductions(), date.today().year + 1,
                        {p.id: p.line for p in context.papers} if context else {})
    entries = _check_papers(doc, rules, v)
    good = _check_citations(entries, rules.seen_ids, context, v)
    v.problems.sort(key=lambda pr: (pr.line, pr.col))
    if v.errors:
        return None, v.problems
    return Catalog(tuple(topics), tuple(good), warnings=tuple(v.warnings)), v.problems


# --- the document and its topics --------------------------------------------------------------


def _read_document(text: str, v: _Validator) -> YMap | None:
    """The parsed top-level mapping, or None after reporting why there is none."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        v.add(0, 0, f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB; is this the catalog?")
        return None
    if "\x00" in text:
        v.add(0, 0, "file contains NUL bytes; it is not a text YAML file")
        return None
    doc = load_tree(text, v.add)
    if v.errors:
        return None
    if not isinstance(doc, YMap):
        v.add(0, 0, "the catalog must be a mapping with 'topics:' and 'papers:' lists")
        return None
    return doc


def _check_top_keys(doc: YMap, v: _Validator) -> None:
    for key in doc:
        if key not in TOP_KEYS:
            line, col = node_pos(doc, key)
            v.add(line, col, f"unknown top-level key {_q(key)}{_suggest(key, TOP_KEYS)}; "
                  "allowed: topics, papers")


def _check_topics(doc: YMap, context: Catalog | None, v: _Validator
                  ) -> tuple[list[Topic], dict[str, int]]:
    """The valid topics, and every topic id a paper may name, mapped to its line (0 for the
    context's topics; a topic without a title still counts as named)."""
    topics: list[Topic] = []
    raw_topics = doc.get("topics")
    if context is not None and raw_topics is None:
        topics, raw_topics = list(context.topics), ()
    elif not isinstance(raw_topics, YSeq):
        line, col = node_pos(doc, "topics") if "topics" in doc else (0, 0)
        v.add(line, col, "'topics:' must be a list of {id, title} entries")
        raw_topics = ()
    topic_ids: dict[str, int] = {t.id: 0 for t in topics}
    for i, t in enumerate(raw_topics):
        topic = _check_topic(i, t, raw_topics, topic_ids, v)
        if topic is not None:
            topics.append(topic)
    return topics, topic_ids


def _check_topic(i: int, t, raw_topics: YSeq, topic_ids: dict[str, int], v: _Validator
                 ) -> Topic | None:
    """Topic #i+1, or None after reporting its problem; records its id in `topic_ids`."""
    line, col = node_pos(raw_topics, index=i)
    if not isinstance(t, YMap):
        v.add(line, col, f"topic #{i + 1} must be a mapping with 'id' and 'title'")
        return None
    for key in t:
        if key not in TOPIC_KEYS:
            kl, kc = node_pos(t, key)
            v.add(kl, kc, f"unknown topic key {_q(key)}{_suggest(key, TOPIC_KEYS)}")
    tid, title = t.get("id"), t.get("title")
    if not isinstance(tid, str) or not SLUG_RE.fullmatch(tid):
        v.add(line, col, f"topic id {tid!r} must be a slug like 'cnns'")
        return None
    if tid in topic_ids:
        v.add(line, col, f"duplicate topic id '{tid}' (first on line {topic_ids[tid]})")
        return None
    topic_ids[tid] = line + 1
    if not isinstance(title, str) or not title.strip():
        v.add(line, col, f"topic '{tid}' needs a non-empty 'title'")
        return None
    return Topic(tid, title.strip())


# --- papers, first pass: each entry's fields ----------------------------------------------------


@dataclass
class _PaperRules:
    """What each paper entry is checked against."""
    text: str                   # the file, to quote a value as written (an arXiv id read as a number)
    topic_ids: dict[str, int]   # topics a paper may name
    reproductions: set[str]     # reproduction modules a paper may name
    max_year: int
    seen_ids: dict[str, int]    # paper id -> line of its entry; the first pass adds each new one


def _check_papers(doc: YMap, rules: _PaperRules, v: _Validator) -> list[tuple[dict, YMap, bool]]:
    """(fields, node, no error so far) of each entry that holds a new paper id. Positions are
    looked up only for a problem: a catalog can hold 20,000 papers."""
    raw_papers = _paper_list(doc, v)
    item_pos = raw_papers.lc.items if isinstance(raw_papers, YSeq) else []
    entries = []
    for i, p in enumerate(raw_papers):
        line, col = item_pos[i]
        if not isinstance(p, YMap):
            v.add(line, col, f"paper #{i + 1} must be a mapping (id, title, authors, ...)")
            continue
        fields: dict = {"line": line + 1}
        # a list, not a generator: every check runs and reports its own problems
        ok = all([_check_paper_keys(i, p, line, col, v), _check_paper_id(p, line, rules, v),
                  _check_texts(p, fields, v), _check_values(p, fields, rules, v),
                  _check_lists(p, fields, v)])
        _check_venue_year(p, fields, v)
        pid = p.get("id")
        if isinstance(pid, str) and rules.seen_ids.get(pid) == line + 1:
            fields["id"] = pid
            entries.append((fields, p, ok))
    return entries


def _paper_list(doc: YMap, v: _Validator) -> list:
    raw_papers = doc.get("papers")
    if raw_papers is None and "papers" in doc:
        return []  # `papers:` with no entries yet
    if not isinstance(raw_papers, YSeq):
        line, col = node_pos(doc, "papers") if "papers" in doc else (0, 0)
        v.add(line, col, "'papers:' must be a list of paper entries")
        return []
    return raw_papers


def _check_paper_keys(i: int, p: YMap, line: int, col: int, v: _Validator) -> bool:
    """False after reporting unknown keys or missing required ones."""
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
    return ok


def _check_paper_id(p: YMap, line: int, rules: _PaperRules, v: _Validator) -> bool:
    """False after reporting an id that is not a slug or is taken; a new id is recorded."""
    pid = p.get("id")
    if pid is None:
        return True  # reported as missing
    if not isinstance(pid, str) or not SLUG_RE.fullmatch(pid) or len(pid) > MAX_SLUG_LEN:
        v.add_at(p, "id", f"id {pid!r:.100} is not a slug: use lowercase letters, digits and "
                 f"'-', at most {MAX_SLUG_LEN} characters (e.g. '{_slug_hint(pid)}')")
        return False
    if pid in rules.seen_ids:
        v.add_at(p, "id", f"duplicate id '{pid}' (first used on line {rules.seen_ids[pid]}); "
                 "ids must be unique")
        return False
    rules.seen_ids[pid] = line + 1
    return True


def _check_texts(p: YMap, fields: dict, v: _Validator) -> bool:
    """Copy the free texts (title, venue, abstract, pdf, url) into `fields`, spaces collapsed
    (the abstract keeps its lines); False after reporting one that cannot be used."""
    ok = True
    for key, limit in _TEXT_LIMITS:
        val = p.get(key)
        if val is None:
            continue
        if not isinstance(val, str) or not val.strip():
            problem = f"'{key}' must be a non-empty string"
        else:
            val = " ".join(val.split()) if key != "abstract" else val.strip()
            problem = _text_problem(key, val, limit)
        if problem:
            v.add_at(p, key, problem)
            ok = False
        else:
            fields[key] = val
    return ok


def _check_values(p: YMap, fields: dict, rules: _PaperRules, v: _Validator) -> bool:
    """Copy year, topic, arxiv, doi and reproduction into `fields`; False after reporting one
    that is malformed or unknown."""
    ok = True
    for key, check in _VALUE_CHECKS:
        value = p.get(key)
        if value is None:
            continue
        problem, clean = check(value, p, rules)
        if problem:
            v.add_at(p, key, problem)
            ok = False
        elif key == "reproduction":  # a module name, or {module, preset, relation, shows}
            fields.update(clean)
        else:
            fields[key] = clean
    return ok


def _check_lists(p: YMap, fields: dict, v: _Validator) -> bool:
    """Copy authors, tags and cites into `fields` as tuples; False after reporting a bad one."""
    ok = True
    for key, limit in _LIST_LIMITS:
        lst = _str_list(p.get(key), v, p, key, limit)
        if lst is None:
            ok = False
        else:
            fields[key] = lst
    return ok


def _check_venue_year(p: YMap, fields: dict, v: _Validator):
    """Warn when the venue names a year other than `year` ('CVPR 2016' with year 2015): `year`
    is the venue's year, and the arXiv id already carries the preprint's."""
    year, venue = fields.get("year"), fields.get("venue")
    others = [y for y in venue_years(venue) if y != year]
    if year is not None and others:
        line, col = node_pos(p, "year", value=True)
        v.add(line, col, f"year {year} but venue {_q(venue)} names {others[0]}: `year` is the "
              f"venue's year, so write year: {others[0]} (the arXiv id keeps the preprint's year)",
              "warning")


# Each value check: (value as loaded, its entry, rules) -> (problem, None) or (None, clean value)


def _year(year, p: YMap, rules: _PaperRules) -> tuple[str | None, object]:
    if isinstance(year, bool) or not isinstance(year, int):
        return f"year must be a whole number like 2015, got {year!r:.40}", None
    if not MIN_YEAR <= year <= rules.max_year:
        return f"year {year} is out of range {MIN_YEAR}..{rules.max_year}", None
    return None, year


def _topic(topic, p: YMap, rules: _PaperRules) -> tuple[str | None, object]:
    known = rules.topic_ids
    if not isinstance(topic, str) or topic not in known:  # [] is unhashable
        return (f"unknown topic {_q(topic)}{_suggest(topic, known)}; "
                f"known: {', '.join(known) or 'none'}"), None
    return None, topic


def _arxiv(arxiv, p: YMap, rules: _PaperRules) -> tuple[str | None, object]:
    if isinstance(arxiv, float | int):
        raw = _raw_token(rules.text, *node_pos(p, "arxiv", value=True)) or str(arxiv)
        return f"arXiv id {raw} was read as a number: quote it, e.g. arxiv: \"{raw}\"", None
    if not isinstance(arxiv, str) or not is_arxiv_id(arxiv.strip()):
        return (f"malformed arXiv id {arxiv!r:.60}: expected e.g. \"1512.03385\" "
                "or \"cs/0112017\""), None
    return None, arxiv.strip()


def _doi(doi, p: YMap, rules: _PaperRules) -> tuple[str | None, object]:
    if not isinstance(doi, str) or not is_doi(doi.strip()) or len(doi) > 300:
        return (f"malformed DOI {doi!r:.60}: expected e.g. 10.1109/CVPR.2016.90 "
                "(no https://doi.org/ prefix)"), None
    return None, doi.strip()


_LINK_KEYS = ("module", "preset", "relation", "shows")


def _reproduction(repro, p: YMap, rules: _PaperRules) -> tuple[str | None, object]:
    """`reproduction: lenet`, or `{module: lenet, preset: mini-1989, relation: variant of,
    shows: one line}`: the fields `reproduction`, `repro_preset`, `relation`, `shows`."""
    link = repro if isinstance(repro, dict) else {"module": repro}
    if unknown := [k for k in link if k not in _LINK_KEYS]:
        return (f"unknown key {_q(unknown[0])} in reproduction{_suggest(unknown[0], _LINK_KEYS)}; "
                f"it takes {', '.join(_LINK_KEYS)}"), None
    name, names = link.get("module"), rules.reproductions | {WORKBENCH_PAGE}
    if not isinstance(name, str) or name not in names:
        return (f"unknown reproduction {_q(name)}{_suggest(name, names)}; available: "
                f"{', '.join(sorted(names))}"), None
    relation = link.get("relation", "implements")
    if relation not in RELATIONS:
        return (f"unknown relation {_q(relation)}{_suggest(relation, RELATIONS)}; it is one of "
                f"{', '.join(RELATIONS)}"), None
    preset, shows = link.get("preset"), link.get("shows")
    if preset is not None and (name == WORKBENCH_PAGE or not _declares_preset(name, preset)):
        return f"reproduction {name} has no preset {_q(preset)}", None
    if shows is not None and (not isinstance(shows, str) or "\n" in shows.strip()
                              or len(shows) > 300):
        return "shows must be one line (at most 300 characters) on what the run shows", None
    if relation != "implements" and not shows:
        return (f"relation '{relation}' needs `shows:`, one line on what the run shows about "
                "this paper"), None
    return None, {"reproduction": name, "relation": relation, "repro_preset": preset,
                  "shows": " ".join(shows.split()) if shows else None}


def _declares_preset(name: str, preset) -> bool:
    """Whether module `name`'s source names `preset` as a quoted string (its PRESETS key);
    read, never imported: the catalog stays usable without torch."""
    f = reproduction_file(name)
    return (isinstance(preset, str) and f is not None
            and re.search(rf"[\"']{re.escape(preset)}[\"']\s*:", f.read_text("utf-8", "replace"))
            is not None)


_VALUE_CHECKS = (("year", _year), ("topic", _topic), ("arxiv", _arxiv), ("doi", _doi),
                 ("reproduction", _reproduction))


# --- papers, second pass: cross-references ------------------------------------------------------


def _check_citations(entries: list[tuple[dict, YMap, bool]], ids: dict[str, int],
                     context: Catalog | None, v: _Validator) -> list[Paper]:
    """The papers without an error once each one's `cites` are checked against every id."""
    years = {p.id: p.year for p in context.papers} if context else {}
    years.update((f["id"], f.get("year")) for f, _, _ in entries)
    all_ids = set(ids)
    # the check first: it reports the citations of a paper that already has an error too
    return [Paper(**fields) for fields, node, ok in entries
            if _check_cites(fields, node, all_ids, years, v) and ok]


def _check_cites(fields: dict, node: YMap, all_ids: set[str], years: dict, v: _Validator
                 ) -> bool:
    """False after reporting a self-citation or an unknown id; a citation of a paper published
    two or more years later is only a warning."""
    ok = True
    pid, year = fields["id"], fields.get("year")
    cites_node = node.get("cites")
    for j, target in enumerate(fields.get("cites", ())):
        cl, cc = node_pos(cites_node, index=j)
        if target == pid:
            v.add(cl, cc, f"'{pid}' cites itself; remove it from its 'cites'")
            ok = False
        elif target not in all_ids:
            v.add(cl, cc, f"'{pid}' cites {_q(target)}, which is not in the catalog"
                  f"{_suggest(target, all_ids)}")
            ok = False
        elif years.get(target) and year and years[target] - year >= 2:
            v.add(cl, cc, f"'{pid}' ({year}) cites '{target}' ({years[target]}), published "
                  f"{years[target] - year} years later; fine for a revised arXiv version, "
                  "otherwise check the edge", "warning")
    return ok


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
