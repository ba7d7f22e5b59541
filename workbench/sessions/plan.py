"""Paper-reading sessions: `sessions/<slug>.yaml`, one file per session.

A session is what a group presents on one day: a title, a date, the papers in the order they
are presented, and who presents each. The file is plain YAML, written by the app's Sessions
page or by hand:

    title: Residual networks and attention
    date: 2025-03-10
    papers: [resnet, transformer, vit]
    presenters:
      resnet: [Alice Martin, Bob Chen]
      transformer: Carol Diaz        # one name or a list
    # vit has no presenter yet: the handout says so

Loading uses a `yaml.SafeLoader` that also refuses aliases (no tags, no code, no
"billion laughs") and checks everything: the slug (the file
name), the keys, the date, that each paper id is a slug in the catalog and listed once, and
that presenters name papers of the session. Every problem raises `SessionInvalid` with one line
naming the file. Saving is atomic (`workbench.fileio`) and refuses with `SessionConflict` when
the file changed on disk since it was loaded (a hand edit while the app had it open), like the
notes. A save from the app writes the file in the canonical layout above: comments in a
hand-edited file are not kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType

import yaml

from workbench.errors import InvalidId, WorkbenchError, did_you_mean
from workbench.fileio import atomic_write_text, version_of
from workbench.safeyaml import YamlProblem, load_small, read_small
from workbench.workspace import SLUG_RE, Workspace, slugify, validate_slug

log = logging.getLogger(__name__)

SESSION_KEYS = ("title", "date", "papers", "presenters")
MAX_FILE_BYTES = 200_000     # a session lists a handful of papers; anything larger is a mistake
MAX_PAPERS = 40
MAX_TITLE_LEN = 200


class SessionError(WorkbenchError):
    """Base class of the session errors."""


class SessionNotFound(SessionError, LookupError):
    """No `sessions/<slug>.yaml`."""


class SessionInvalid(SessionError, ValueError):
    """The session file or form has a problem; the message names the file and the fix."""


class SessionConflict(SessionError):
    """The file changed on disk since it was loaded; saving would lose that change."""


@dataclass(frozen=True)
class Session:
    slug: str
    title: str
    date: date | None = None
    papers: tuple[str, ...] = ()
    presenters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "presenters", MappingProxyType(
            {k: tuple(v) for k, v in dict(self.presenters).items()}))

    def __reduce__(self):  # the read-only mapping does not pickle (st.session_state, caches)
        return (Session, (self.slug, self.title, self.date, self.papers, dict(self.presenters)))

    def presenters_of(self, paper_id: str) -> tuple[str, ...]:
        return self.presenters.get(paper_id, ())


# --- parsing and validation ------------------------------------------------------------------------


_suggest = did_you_mean


def _names(value, where: str) -> tuple[str, ...]:
    """'Alice' or ['Alice', 'Bob'] (or 'Alice, Bob') -> ('Alice', 'Bob'); blanks dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise SessionInvalid(f"{where} must be a name or a list of names, got {value!r}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise SessionInvalid(f"{where}: {item!r} is not a name; put it in quotes")
        name = " ".join(item.split())
        if len(name) > 100:
            raise SessionInvalid(f"{where}: a name is over 100 characters long")
        if name and name not in out:
            out.append(name)
    return tuple(out)


def _date(value, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SessionInvalid(f"{where} {value!r} is not a date like 2025-03-10")


def build_session(slug: str, data: Mapping, catalog=None, where: str | None = None) -> Session:
    """A validated `Session` from plain data (a parsed file or the app's form).

    `catalog` (a `workbench.catalog.model.Catalog`) enables the check that every paper exists;
    `where` names the source in messages (default: `sessions/<slug>.yaml`).
    """
    if where is None:  # a hostile slug (a newline, 300 characters) stays out of the message
        ok = isinstance(slug, str) and SLUG_RE.fullmatch(slug) and len(slug) <= 80
        where = f"sessions/{slug}.yaml" if ok else "session file"
    try:
        validate_slug(slug, "session name")
    except InvalidId as exc:
        raise SessionInvalid(f"{where}: {exc}") from None
    if not isinstance(data, Mapping):
        raise SessionInvalid(f"{where}: must be a mapping with title, date, papers, presenters")
    for key in data:
        if key not in SESSION_KEYS:
            raise SessionInvalid(f"{where}: unknown key {key!r}{_suggest(key, SESSION_KEYS)}; "
                                 f"allowed: {', '.join(SESSION_KEYS)}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SessionInvalid(f"{where}: give the session a title (title: ...)")
    title = " ".join(title.split())
    if len(title) > MAX_TITLE_LEN:
        raise SessionInvalid(f"{where}: the title is over {MAX_TITLE_LEN} characters long")
    when = _date(data.get("date"), f"{where}: date")

    raw_papers = data.get("papers")
    if isinstance(raw_papers, str):
        raise SessionInvalid(f"{where}: papers must be a list, e.g. papers: [{raw_papers}]")
    if not isinstance(raw_papers, list) or not raw_papers:
        raise SessionInvalid(f"{where}: list the papers in presentation order (papers: [...])")
    if len(raw_papers) > MAX_PAPERS:
        raise SessionInvalid(f"{where}: {len(raw_papers)} papers; a session holds at most "
                             f"{MAX_PAPERS}")
    papers: list[str] = []
    known = set(catalog.by_id) if catalog is not None else None
    for i, pid in enumerate(raw_papers, start=1):
        if not isinstance(pid, str) or not SLUG_RE.fullmatch(pid) or len(pid) > 80:
            raise SessionInvalid(f"{where}: paper #{i} {pid!r} is not a paper id (a slug like "
                                 "'resnet')")
        if known is not None and pid not in known:
            raise SessionInvalid(f"{where}: paper '{pid}' is not in the catalog"
                                 f"{_suggest(pid, known)}")
        if pid in papers:
            raise SessionInvalid(f"{where}: paper '{pid}' is listed twice")
        papers.append(pid)

    raw_presenters = data.get("presenters") or {}
    if not isinstance(raw_presenters, Mapping):
        raise SessionInvalid(f"{where}: presenters must map paper ids to names "
                             "(resnet: [Alice, Bob])")
    presenters: dict[str, tuple[str, ...]] = {}
    for pid, names in raw_presenters.items():
        if pid not in papers:
            raise SessionInvalid(f"{where}: presenters name '{pid}', which is not among the "
                                 f"session's papers{_suggest(pid, papers)}")
        found = _names(names, f"{where}: presenters of '{pid}'")
        if found:
            presenters[pid] = found
    return Session(slug, title, when, tuple(papers),
                   {p: presenters[p] for p in papers if p in presenters})


def parse_session(text: str, slug: str, catalog=None) -> Session:
    """A session from file text; `SessionInvalid` with the line of a YAML syntax error."""
    where = f"sessions/{slug}.yaml"
    try:
        data = load_small(text)
    except YamlProblem as exc:
        line = f":{exc.line}" if exc.line is not None else ""
        if not exc.syntax:
            raise SessionInvalid(f"{where}{line}: {exc.problem}") from None
        raise SessionInvalid(f"{where}{line}: not valid YAML ({exc.problem}); fix the indentation "
                             "or quoting") from None
    return build_session(slug, data if data is not None else {}, catalog, where)


def render_session(session: Session) -> str:
    """The canonical file text: `parse_session(render_session(s), s.slug) == s`."""
    data: dict = {"title": session.title}
    if session.date is not None:
        data["date"] = session.date
    data["papers"] = list(session.papers)
    if session.presenters:
        data["presenters"] = {p: list(n) for p, n in session.presenters.items()}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --- storage -----------------------------------------------------------------------------------------


def session_path(ws: Workspace, slug: str) -> Path:
    return ws.sessions_dir / f"{validate_slug(slug, 'session name')}.yaml"




def _read(path: Path, slug: str) -> bytes | None:
    """The file's bytes (None if missing); a file over `MAX_FILE_BYTES` is refused unread."""
    return read_small(path, MAX_FILE_BYTES, SessionInvalid, f"sessions/{slug}.yaml",
                      "is it a session file?")


def _decode(data: bytes, slug: str) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SessionInvalid(f"sessions/{slug}.yaml is not UTF-8 text (byte {exc.start}); save "
                             "it as UTF-8") from None


def list_sessions(ws: Workspace) -> list[str]:
    """The slugs of `sessions/*.yaml`, sorted; files whose names are not slugs are ignored."""
    if not ws.sessions_dir.is_dir():
        return []
    return sorted(p.stem for p in ws.sessions_dir.glob("*.yaml")
                  if p.is_file() and SLUG_RE.fullmatch(p.stem) and len(p.stem) <= 80)


def session_exists(ws: Workspace, slug: str) -> bool:
    try:
        return session_path(ws, slug).is_file()
    except InvalidId:
        return False


def load_session(ws: Workspace, slug: str, catalog=None) -> tuple[Session, str]:
    """(session, version) of `sessions/<slug>.yaml`; `SessionNotFound` / `SessionInvalid`."""
    path = session_path(ws, slug)
    data = _read(path, slug)
    if data is None:
        known = list_sessions(ws)
        hint = _suggest(slug, known) or (f"; sessions: {', '.join(known)}" if known else
                                         "; create one on the Sessions page")
        raise SessionNotFound(f"no session '{slug}' in {ws.sessions_dir}{hint}")
    return parse_session(_decode(data, slug), slug, catalog), version_of(data)


def save_session(ws: Workspace, session: Session, expected_version: str | None,
                 catalog=None) -> str:
    """Write the session atomically if the file still has `expected_version`; the new version.

    `expected_version` is what `load_session` (or the previous save) returned; None means "a
    new session": an existing file of that name is then refused, never overwritten.
    """
    session = build_session(session.slug, {
        "title": session.title, "date": session.date, "papers": list(session.papers),
        "presenters": {p: list(n) for p, n in session.presenters.items()}}, catalog)
    path = session_path(ws, session.slug)
    current = _read(path, session.slug)
    if current is not None and expected_version is None:
        raise SessionConflict(f"a session '{session.slug}' already exists; pick another name "
                              "or open that session to edit it")
    if current is None and expected_version is not None:
        raise SessionConflict(f"sessions/{session.slug}.yaml was deleted after you opened it; "
                              "nothing was saved: save it as a new session")
    if current is not None and version_of(current) != expected_version:
        raise SessionConflict(f"sessions/{session.slug}.yaml changed on disk after you opened "
                              "it (a hand edit?); nothing was saved: reload it and edit again")
    text = render_session(session)
    atomic_write_text(path, text)
    log.info("saved %s", path)
    return version_of(text.encode("utf-8"))


def suggest_slug(title: str, when: date | None = None) -> str:
    """A file name for a new session: 'Residual nets' on 2025-03-10 -> '2025-03-10-residual-nets'."""
    base = slugify(title, max_len=50)
    return f"{when.isoformat()}-{base}" if when else base


def find_papers(catalog, query: str, exclude: Iterable[str] = ()) -> list:
    """Catalog papers whose title, one author or id contains `query` (case-insensitive, spaces
    collapsed), in catalog order, leaving out `exclude` (the papers already in the session).
    Exact substrings only: 'Simonyan' finds Simonyan's papers and nothing that merely looks
    alike."""
    needle = " ".join(query.split()).casefold()
    if not needle:
        return []
    skip = set(exclude)
    return [p for p in catalog.papers if p.id not in skip and (
        needle in p.id.casefold() or needle in " ".join(p.title.split()).casefold()
        or any(needle in " ".join(a.split()).casefold() for a in p.authors))]


def form_session(slug: str, title: str, when: date | None, papers: Iterable[str],
                 presenters: Mapping[str, str], catalog=None) -> Session:
    """A validated session from the app's form: presenters as 'Alice, Bob' per paper."""
    papers = list(papers)
    return build_session(slug, {
        "title": title, "date": when, "papers": papers,
        "presenters": {p: presenters.get(p, "") for p in papers if presenters.get(p)},
    }, catalog, where=f"session '{slug}'")
