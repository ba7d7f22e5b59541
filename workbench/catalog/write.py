"""Write to `papers.yaml`: `add_papers` adds entries, `append_paper` one, `render_entry` is the
YAML text of one.

Each new entry goes after the last paper of its topic, as inserted lines: every other byte of the
file (comments, order, formatting) is kept. Every writer of papers.yaml (`workbench add`, `bib
import`, the app's Add page) comes through `add_papers`, which guards the file against the ways a
write has lost papers:

- one writer at a time: an exclusive lock on the catalog's folder, held from the read to the
  rename (two imports no longer both read 99 papers and each write 99 + 15);
- an editor saving in place: the file is read only once it has been quiet for `SETTLE_S` and
  did not change while being read (a half-written file is never taken for the catalog);
- a version token: just before the rename the file must still hold exactly the bytes that were
  read, else `CatalogConflict` and nothing is written (a hand edit made meanwhile is kept);
- a sanity check: the new catalog must hold every paper of the one read, plus the new ones;
- a file that changed seconds ago and is a cut-short copy of what the workbench wrote last
  (an editor's save that stalled half-way) is refused too;
- after the write, the file is watched for `CONFIRM_S`: an editor saving in place just then
  either wrote into the file the rename replaced (its save is put back and the change made again
  on top) or wrote a buffer read before the rename over the new file (the change is made again
  if it is gone). An editor that saves a stale buffer later overwrites the change, as it would
  any other program's; editors that check the file's time before saving warn about it.

Only the new entries are validated (against the catalog read): adding one paper to 20,000 checks
a few lines, not 3 MB. The write is atomic and goes through a symlink to its target.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import io
import os
import re
import stat
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.catalog import cache as catalog_cache
from workbench.catalog.model import Catalog, Paper
from workbench.catalog.validate import (
    MAX_FILE_BYTES,
    PAPER_KEYS,
    check_bytes,
    read_catalog_bytes,
    validate_text,
)
from workbench.catalog.yamltree import round_trip_yaml
from workbench.errors import CatalogConflict, CatalogError
from workbench.fileio import atomic_write_bytes, locked, write_target

SETTLE_S = 0.5      # a file modified more recently than this may still be being written
PARTIAL_LINE_WAIT_S = 5  # a file ending mid-line is waited for this long after its last change
SETTLE_MAX_S = 15   # give up waiting for a quiet file after this long
RECENT_LOSS_S = 60  # a cut-short file changed this recently is not built on
CONFIRM_S = 0.25    # after a write, the file is watched this long for an editor's racing save
MAX_REPAIRS = 3     # writes made again after such a save, before giving up


def render_entry(entry: Mapping, dash_col: int = 2) -> str:
    """YAML text for one paper entry, as a block-sequence item whose '-' sits at `dash_col`."""
    return render_entries([entry], dash_col)[0]


def render_entries(entries: Sequence[Mapping], dash_col: int = 2) -> list[str]:
    """`render_entry` of each entry, with one YAML dump for all (4,000 entries in seconds)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    maps = []
    for entry in entries:
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
        maps.append(m)
    if not maps:
        return []
    buf = io.StringIO()
    round_trip_yaml().dump(maps, buf)
    items: list[list[str]] = []
    for ln in buf.getvalue().splitlines(keepends=True):
        if ln.startswith("  - "):  # the dump puts each item's '-' at column 2
            items.append([])
        items[-1].append(ln)
    return [_shift("".join(lines), dash_col - 2) for lines in items]


def _shift(text: str, shift: int) -> str:
    """`text` moved `shift` columns right (left if negative), blank lines left alone."""
    if shift == 0:
        return text
    lines = text.splitlines(keepends=True)
    if shift > 0:
        lines = [(" " * shift + ln) if ln.strip() else ln for ln in lines]
    else:
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


@dataclass(frozen=True)
class AddResult:
    added: tuple[Paper, ...]                  # in the order `prepare` returned them
    refused: tuple[tuple[Mapping, str], ...]  # (entry, one-line reason)


def add_papers(path: str | Path, prepare: Callable[[Catalog], Sequence[Mapping]]) -> AddResult:
    """Add the entries `prepare(catalog)` returns to the catalog at `path`, in one guarded write.

    `prepare` is called under the lock with the catalog as it is on disk now, so duplicate checks
    and fresh ids are decided against what will really be replaced. Entries the catalog refuses
    (a bad field, an id already taken) are returned in `refused` with the reason; the others are
    written. Raises `CatalogError` when the file on disk is invalid, `CatalogConflict` when it
    changed during the write or lost papers moments ago; in both cases nothing is written.
    """
    def change(text: str, catalog: Catalog):
        entries = [dict(e) for e in prepare(catalog)]
        if not entries:
            return None, AddResult((), ())
        new, refused = _checked_entries(catalog, entries, Path(path).name)
        if not new:
            return None, AddResult((), tuple(refused))
        new_text, new_catalog = _insert(text, catalog, new)
        if new_text is None:  # a layout the line insertion cannot vouch for: validate it all
            new_text = _insert_slow(text, new)
            new_catalog, problems = validate_text(new_text, Path(path).name)
            if new_catalog is None:
                raise CatalogError([str(p) for p in problems if p.severity == "error"])
        _sanity_check(catalog, new_catalog, [e["id"] for e, *_ in new])
        by_id = new_catalog.by_id
        return (new_text, new_catalog), AddResult(tuple(by_id[e["id"]] for e, *_ in new),
                                                  tuple(refused))

    return guarded_edit(path, change, "the new papers were being added")


def guarded_edit(path: str | Path, change: Callable, doing: str):
    """Run `change(text, catalog)` on the catalog as it is on disk, under the folder's lock, and
    write what it returns: `((new_text, new_catalog) or None for no write, result)`; `result`
    is returned. The guards of the module docstring hold for every writer that comes here.

    After the write the file is watched for `CONFIRM_S`: an editor that saves in place at that
    moment either writes into the file just replaced (its save is put back, then the change is
    made again on top of it) or overwrites the new file with a buffer read before it (the change
    is made again if it is gone). Either way both land, and the result is the last write's."""
    target = write_target(path)
    result = None
    for _attempt in range(MAX_REPAIRS + 1):
        written, outcome = _edit_once(target, Path(path), change, doing)
        if written is None:
            return outcome if result is None else result
        result = outcome
        if not _raced(target, Path(path), *written):
            return result
    raise CatalogConflict(f"{Path(path).name} kept being saved over while {doing}; it holds the "
                          "last save: check it, then run the command again")


def _edit_once(target: Path, path: Path, change: Callable, doing: str):
    """One guarded read-change-write: (None, result) when nothing was written, else
    ((replaced file, its stamp, bytes written, catalog read, catalog written), result)."""
    with locked(target.parent):
        raw, stamp, old = _read_settled(target)
        try:
            catalog, problems = check_bytes(raw, path)
            if catalog is None:
                raise CatalogError([str(p) for p in problems if p.severity == "error"])
            _refuse_cut_short(target, raw, stamp)
            written, result = change(raw.decode("utf-8"), catalog)
            if written is None:
                old.close()
                return None, result
            new_text, new_catalog = written
            data = new_text.encode("utf-8")
            if len(data) > MAX_FILE_BYTES:
                raise CatalogError([f"{path.name}: the change would make it "
                                    f"{len(data) / 1e6:.1f} MB, over the "
                                    f"{MAX_FILE_BYTES // 1_000_000} MB a catalog may hold; "
                                    "nothing was written: split the reading list into several "
                                    "workspaces"])
            if target.read_bytes() != raw or _stamp(target) != stamp:
                raise CatalogConflict(
                    f"{path.name} changed while {doing} (an editor or another command); "
                    "nothing was written: run the command again")
            written = atomic_write_bytes(target, data)
        except BaseException:
            old.close()
            raise
        catalog_cache.remember(data, path.name, new_catalog)
        _remember_written(target, data, written)
    return (old, stamp, data, catalog, new_catalog), result


def _raced(target: Path, path: Path, old, stamp, data: bytes, catalog: Catalog,
           new_catalog: Catalog) -> bool:
    """Watch the file for CONFIRM_S after a write; True when an editor's in-place save raced it
    and the change must be made again (the editor's save is on disk by then). `old` is the file
    the write replaced, still open."""
    written_stamp = _last_written.get(target)
    deadline = time.monotonic() + CONFIRM_S
    try:
        while True:
            if _fstamp(old) != stamp:
                # the editor opened the file before the rename and wrote into it: its save is
                # in the replaced file, not on disk; put it back, then change it again
                saved = _read_settled_fd(old, target.name)
                with locked(target.parent):
                    if target.read_bytes() != data:
                        side = target.with_name(f"{target.name}.editor-save-"
                                                f"{time.strftime('%Y%m%d-%H%M%S')}")
                        atomic_write_bytes(side, saved)
                        raise CatalogConflict(
                            f"an editor saved {target.name} while it was written, and the file "
                            f"changed again since; the editor's save is kept in {side.name}: "
                            "merge it by hand, then run the command again")
                    put_back = atomic_write_bytes(target, saved)
                    _last_written[target] = _stat_stamp(put_back)  # the next read: no settling
                return True
            try:
                changed = _stamp(target) != written_stamp
            except OSError:
                changed = True
            if changed:
                # written again since: a later command built on this write (the change is in
                # it) or an editor saved a buffer read before it (the change is gone)
                try:
                    raw, _stamp_now, now = _read_settled(target)
                except CatalogConflict:
                    raise CatalogConflict(
                        f"{path.name} was written, then kept changing (an editor saving it?): "
                        "check that it holds what the command added") from None
                except CatalogError as exc:
                    raise CatalogConflict(f"{path.name} was written, then changed: {exc}; "
                                          "check that it holds what the command added") from None
                now.close()
                current, _problems = check_bytes(raw, path)
                return current is None or not _keeps_change(catalog, new_catalog, current)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
    finally:
        old.close()


def _keeps_change(before: Catalog, after: Catalog, current: Catalog) -> bool:
    """Whether `current` still holds every paper the write `before` -> `after` added or changed."""
    def fields(p: Paper) -> Paper:
        return dataclasses.replace(p, line=0)

    changed = [p for p in after.papers
               if p.id not in before.by_id or fields(before.by_id[p.id]) != fields(p)]
    return all(p.id in current.by_id and fields(current.by_id[p.id]) == fields(p)
               for p in changed)


def append_paper(path: str | Path, entry: Mapping) -> Paper:
    """Add one entry (see `add_papers`); `CatalogError` if the catalog refuses it."""
    result = add_papers(path, lambda catalog: [entry])
    if result.refused:
        raise CatalogError([result.refused[0][1]])
    return result.added[0]


# --- reading a file that may be being written ------------------------------------------------


def _stamp(path: Path) -> tuple[int, int, int]:
    return _stat_stamp(os.stat(path))


def _fstamp(fh) -> tuple[int, int, int]:
    return _stat_stamp(os.fstat(fh.fileno()))


def _stat_stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _read_settled(path: Path):
    """The file's bytes, read once it has been quiet for SETTLE_S and did not change during the
    read: an editor writing it in place (truncate, then write) is waited for, not read half-way.
    The file the workbench wrote last is known by its stamp and needs no wait. Returns (bytes,
    stamp, the file kept open): the writer watches the file it replaces for a racing save."""
    deadline = time.monotonic() + SETTLE_MAX_S
    while True:
        try:
            before = _stamp(path)
        except OSError:  # gone or unreadable: say why in one line
            raw, problem = read_catalog_bytes(path)
            if problem is not None:
                raise CatalogError([str(problem)]) from None
            continue  # it came back meanwhile
        age = time.time() - before[2] / 1e9
        if age >= SETTLE_S or before == _last_written.get(path):
            raw, problem = read_catalog_bytes(path)
            if raw is None:
                raise CatalogError([str(problem)])
            # a text file that stops mid-line was probably cut by a save still under way
            whole = raw.endswith(b"\n") or not raw or age >= PARTIAL_LINE_WAIT_S
            if whole:
                fh = _open_regular(path)
                if fh is not None and _fstamp(fh) == before and _stamp(path) == before:
                    return raw, before, fh
                if fh is not None:
                    fh.close()
        if time.monotonic() > deadline:
            raise CatalogConflict(f"{path.name} keeps changing (an editor saving it?); nothing "
                                  "was written: close it or wait, then run the command again")
        time.sleep(0.05)


def _open_regular(path: Path):
    """`path` opened for reading, or None if it is no longer a regular file (never blocks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    fh = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        fh.close()
        return None
    return fh


def _read_settled_fd(fh, name: str) -> bytes:
    """An open file's bytes once it has been quiet for SETTLE_S (an editor's save into it)."""
    deadline = time.monotonic() + SETTLE_MAX_S
    while True:
        before = _fstamp(fh)
        age = time.time() - before[2] / 1e9
        if age >= SETTLE_S:
            raw = os.pread(fh.fileno(), MAX_FILE_BYTES + 1, 0)
            if _fstamp(fh) == before and (raw.endswith(b"\n") or not raw
                                          or age >= PARTIAL_LINE_WAIT_S):
                return raw
        if time.monotonic() > deadline:
            raise CatalogConflict(f"{name} keeps changing (an editor saving it?): close it, "
                                  "check it, then run the command again")
        time.sleep(0.05)


_last_written: dict[Path, tuple[int, int, int]] = {}


def _record(target: Path) -> Path:
    key = hashlib.sha256(str(target).encode()).hexdigest()[:32]
    return catalog_cache.cache_dir() / f"written-{key}.zlib"


def _remember_written(target: Path, data: bytes, written: os.stat_result) -> None:
    """What the workbench wrote to this catalog file last (best effort, compressed); its stamp
    is the file's as written (`atomic_write_bytes`), not what is at the path after the rename."""
    _last_written[target] = _stat_stamp(written)
    try:
        record = _record(target)
        record.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(record, zlib.compress(data, 1))
    except OSError:
        pass


def _refuse_cut_short(target: Path, raw: bytes, stamp: tuple[int, int, int]) -> None:
    """Refuse to build on a file that changed recently and is what the workbench wrote last, cut
    short in the middle of an entry: an editor's save caught half-way (a stall longer than
    SETTLE_S). A file cut at an entry's start (an add undone with git) or changed a while ago is
    a decision, and is kept."""
    if time.time() - stamp[2] / 1e9 > RECENT_LOSS_S:
        return
    try:
        last = zlib.decompress(_record(target).read_bytes())
    except (OSError, zlib.error):
        return
    rest = last[len(raw):]
    at_entry = re.match(rb"(\s*\n|\s*#[^\n]*\n)*[ ]*- ", rest) is not None  # an add undone
    if len(raw) < len(last) and last.startswith(raw) and not at_entry:
        raise CatalogConflict(
            f"{target.name} changed {time.time() - stamp[2] / 1e9:.0f} s ago and is now a "
            f"cut-short copy ({len(raw):,} of {len(last):,} bytes) of what the workbench wrote: "
            "an editor may still be saving it; nothing was written. Check the file, then run "
            f"the command again (after {RECENT_LOSS_S} s if the shorter file is what you want)")


# --- checking and inserting the new entries ---------------------------------------------------


def _checked_entries(catalog: Catalog, entries: list[dict], name: str
                     ) -> tuple[list[tuple], list[tuple[dict, str]]]:
    """(entry, Paper, warnings, YAML) of the entries valid against `catalog`, and (entry, why)
    of the rest. All are rendered and validated together (an entry's problems are told apart
    by their lines), so 4,000 entries cost one dump and a few validations, not 4,000."""
    refused, ids, pending = [], set(), []
    for entry in entries:
        if entry.get("id") in catalog or entry.get("id") in ids:
            refused.append((entry, f"id '{entry.get('id')}' is already in the catalog"))
        else:
            ids.add(entry.get("id"))
            pending.append(entry)
    snippets = dict(zip(map(id, pending), render_entries(pending, 2), strict=True))
    while pending:
        starts, line = [], 2  # the batch text is "papers:\n" + the snippets
        for entry in pending:
            starts.append(line)
            line += snippets[id(entry)].count("\n")
        text = "papers:\n" + "".join(snippets[id(e)] for e in pending)
        got, problems = validate_text(text, name, context=catalog)

        def owner(problem, starts=starts) -> int:
            return max(bisect.bisect_right(starts, problem.line) - 1, 0)

        if got is not None:
            warns: dict[int, list] = {}
            for w in got.warnings:  # relative to the entry: its first line is line 2
                i = owner(w)
                warns.setdefault(i, []).append(dataclasses.replace(w, line=w.line - starts[i] + 2))
            return [(e, dataclasses.replace(got.by_id[e["id"]], line=2), tuple(warns.get(i, ())),
                     snippets[id(e)]) for i, e in enumerate(pending)], refused
        bad: dict[int, str] = {}
        for p in problems:
            if p.severity == "error":
                bad.setdefault(owner(p), p.message)
        refused += [(pending[i], why) for i, why in sorted(bad.items())]
        pending = [e for i, e in enumerate(pending) if i not in bad]
    return [], refused


def _insert(text: str, catalog: Catalog, new: list[tuple]
            ) -> tuple[str | None, Catalog | None]:
    """The text with each entry after the last paper of its topic, and the catalog it holds;
    (None, None) when the file's layout is not the plain block list this can vouch for."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    papers = catalog.papers
    if not papers:
        return None, None
    first = lines[papers[0].line - 1]
    dash_col = len(first) - len(first.lstrip(" "))
    if any(not lines[p.line - 1].startswith(" " * dash_col + "- ") for p in papers):
        return None, None
    # the list must end the file (after the last paper nothing at column 0 but comments), or a
    # paper added at the end would land in whatever follows it
    if any(ln[:1] not in (" ", "\n", "\r", "#") for ln in lines[papers[-1].line:]):
        return None, None
    last_of_topic = {p.topic: i for i, p in enumerate(papers)}
    before: dict[int, list[tuple[int, Paper, str]]] = {}  # line index -> insertions there
    for _entry, paper, warns, snippet in new:
        after = last_of_topic.get(paper.topic, len(papers) - 1)
        if after + 1 < len(papers):
            at = papers[after + 1].line - 1
            # keep the next group's comment heading (and blank lines) with the next group
            while at > 0 and (lines[at - 1].strip().startswith("#") or not lines[at - 1].strip()):
                at -= 1
        else:
            at = len(lines)
            while at > 0 and not lines[at - 1].strip():
                at -= 1
        before.setdefault(at, []).append((after, paper, warns, _shift(snippet, dash_col - 2)))
    out: list[str] = []
    shift = 0
    shifts = [0] * (len(lines) + 1)  # lines added before each old line
    placed: list[tuple[int, Paper]] = []
    warnings: list = []
    for i in range(len(lines) + 1):
        for after, paper, warns, chunk in before.get(i, ()):
            placed.append((after, dataclasses.replace(paper, line=i + shift + 1)))
            warnings += [dataclasses.replace(w, file=catalog.warnings[0].file
                                             if catalog.warnings else w.file,
                                             line=w.line - 2 + i + shift + 1) for w in warns]
            out.append(chunk)
            shift += chunk.count("\n")
        shifts[i] = shift
        if i < len(lines):
            out.append(lines[i])
    merged: list[Paper] = []
    for i, p in enumerate(papers):
        merged.append(dataclasses.replace(p, line=p.line + shifts[p.line - 1])
                      if shifts[p.line - 1] else p)
        merged.extend(q for after, q in placed if after == i)
    warnings += [dataclasses.replace(w, line=w.line + shifts[w.line - 1])
                 for w in catalog.warnings]
    warnings.sort(key=lambda w: (w.line, w.col))
    return "".join(out), Catalog(catalog.topics, tuple(merged), catalog.path,
                                 warnings=tuple(warnings))


def _insert_slow(text: str, new: list[tuple]) -> str:
    """Entries inserted with the full round-trip parse (flow-style or unusual layouts)."""
    for entry, *_ in new:
        text = _insert_one_round_trip(text, entry)
    return text


def _sanity_check(old: Catalog, new: Catalog, added: list[str]) -> None:
    """The write must keep every paper it read and add exactly the new ones."""
    old_ids, new_ids = set(old.by_id), set(new.by_id)
    lost = old_ids - new_ids
    extra = new_ids - old_ids - set(added)
    if lost or extra or len(new.papers) != len(old.papers) + len(added):
        raise CatalogConflict(
            f"refusing to write {len(new.papers)} papers over {len(old.papers)} + {len(added)} "
            f"new (would lose {sorted(lost)[:3]}); nothing was written; please report this")


def _insert_one_round_trip(text: str, entry: Mapping) -> str:
    """`text` with `entry` after the last paper of its topic, placed with ruamel's positions."""
    from workbench.catalog.yamltree import node_pos

    doc = round_trip_yaml().load(text)
    seq = doc["papers"]
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if seq is None or not len(seq):
        # an empty list (`papers: []` or `papers:`): the entry becomes its first item
        key_line = node_pos(doc, "papers")[0]
        lines[key_line] = "papers:\n"
        return "".join(lines) + render_entry(entry, 2)
    if len(seq):
        first_line, _ = node_pos(seq, index=0)
        dash_col = lines[first_line].index("-") if "-" in lines[first_line] else 2
    else:
        dash_col = 2
    same_topic = [i for i, p in enumerate(seq) if p.get("topic") == entry.get("topic")]
    last = same_topic[-1] if same_topic else len(seq) - 1
    if last < 0:
        insert_at = len(lines)
    elif last + 1 < len(seq):
        insert_at = node_pos(seq, index=last + 1)[0]
        # keep the next group's comment heading (and blank lines) attached to the next group
        while insert_at > 0 and (lines[insert_at - 1].strip().startswith("#")
                                 or not lines[insert_at - 1].strip()):
            insert_at -= 1
    else:
        insert_at = len(lines)
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
    return "".join(lines[:insert_at]) + render_entry(entry, dash_col) + \
        "".join(lines[insert_at:])


# --- adding citation edges to existing entries ----------------------------------------------

_FLOW_CITES = re.compile(r"^(?P<head>\s+cites:\s*\[)(?P<items>[^\]#]*)\](?P<tail>\s*(#.*)?)$")


def add_citations(path: str | Path, wanted: Mapping[str, Sequence[str]]
                  ) -> dict[str, tuple[str, ...]]:
    """Add `{citing id: [cited ids]}` to the papers' `cites` in one guarded write (see
    `guarded_edit`): each entry's `cites:` line is extended (or one is added after the entry's
    last line), every other byte is kept. Returns what was added per paper (ids already cited,
    unknown papers and self-citations are skipped). The result must validate and differ from the
    catalog read only in those `cites`, else `CatalogError` and nothing is written."""
    def change(text: str, catalog: Catalog):
        added = {pid: tuple(c for c in dict.fromkeys(cited) if c in catalog.by_id
                            and c != pid and c not in catalog.by_id[pid].cites)
                 for pid, cited in wanted.items() if pid in catalog.by_id}
        added = {pid: c for pid, c in added.items() if c}
        if not added:
            return None, {}
        new_text = _with_cites(text, catalog, added)
        new_catalog, problems = validate_text(new_text, Path(path).name)
        expected = [dataclasses.replace(p, cites=p.cites + added.get(p.id, ()), line=0)
                    for p in catalog.papers]
        if new_catalog is None or [dataclasses.replace(p, line=0) for p in
                                   new_catalog.papers] != expected:
            raise CatalogError([f"{Path(path).name}: adding the citations would change more than "
                                "their `cites` (an unusual layout?); nothing was written: add "
                                "them by hand"])
        return (new_text, new_catalog), added

    return guarded_edit(path, change, "the citations were being added")


def _with_cites(text: str, catalog: Catalog, added: Mapping[str, tuple[str, ...]]) -> str:
    """`text` with each entry's new cites: its flow list `cites: [a, b]` extended, else a block
    list's items appended, else a `cites: [...]` line after the entry's last line."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    starts = sorted(p.line - 1 for p in catalog.papers)
    for paper in sorted((catalog.by_id[pid] for pid in added), key=lambda p: -p.line):
        begin = paper.line - 1
        end = next((s for s in starts if s > begin), len(lines))
        while end > begin + 1 and (not lines[end - 1].strip()
                                   or lines[end - 1].lstrip().startswith("#")):
            end -= 1  # the next entry's heading comment and blank lines stay with it
        indent = " " * (len(lines[begin]) - len(lines[begin].lstrip(" -")))
        new = added[paper.id]
        at = next((i for i in range(begin, end) if lines[i].startswith(f"{indent}cites:")), None)
        if at is None:
            lines.insert(end, f"{indent}cites: [{', '.join(new)}]\n")
        elif m := _FLOW_CITES.match(lines[at].rstrip("\n")):
            items = [i.strip() for i in m["items"].split(",") if i.strip()] + list(new)
            lines[at] = f"{m['head']}{', '.join(items)}]{m['tail']}\n"
        else:  # a block list: `cites:` then `- id` lines
            item = next((ln for ln in lines[at + 1:end] if ln.lstrip().startswith("- ")),
                        f"{indent}  - x\n")
            dash = item[:len(item) - len(item.lstrip())]
            last = max([i for i in range(at + 1, end) if lines[i].lstrip().startswith("- ")],
                       default=at)
            lines[last + 1:last + 1] = [f"{dash}- {c}\n" for c in new]
    return "".join(lines)
