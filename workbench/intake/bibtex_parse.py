"""Read BibTeX text into records, entry by entry: what `bibtex_import` turns into papers.

Why not bibtexparser's reader: it parses the whole file as one pyparsing grammar (38 s of CPU
with its LaTeX decoder for a 4,000-entry Zotero library; 0.6 s here), and any entry it cannot
read or decode (one `\\;` in a title: its LaTeX table raises `TypeError`) refuses the whole
file. Here every line that starts an entry (`@article{`) also ends the one before it, so a bad
entry costs only itself: it is reported with its key, line and the reason, and the rest is
read. Values come out as bibtexparser 1.x gives them (lowercase field names, outer braces or
quotes removed, `#` concatenated, months `jan`...`dec` defined), then decoded to Unicode with
bibtexparser's LaTeX table, used without its broken rows and only where a field has a
backslash.

`@string` macros are expanded when defined, as BibTeX does, so expansion never recurses; its
length is capped instead: a value that grows past `MAX_VALUE_CHARS` through macros, or macros
that expand to more than `MAX_EXPANDED_CHARS` in one file (the `s_i = s_{i-1} # s_{i-1}`
doubling bomb reaches terabytes in 40 lines), refuse the file with one `BibtexError`.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass

from workbench.catalog import BibtexError

MAX_VALUE_CHARS = 100_000         # one field or @string after expansion (abstracts: < 10,000)
MAX_EXPANDED_CHARS = 10_000_000   # all macro uses in one file together (the file limit is 10 MB)

# an entry starts at a line's first `@type{`; further entries on the same line are found too
_LINE_START_RE = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)
_AT_RE = re.compile(r"@[ \t]*([A-Za-z]+)[ \t]*([{(])")
_KEY_RE = re.compile(r"\s*([^\s,{}()\"=#%]*)\s*")
_NAME_RE = re.compile(r"([^\s\"#%'(),={}]+)\s*")
_NUMBER_RE = re.compile(r"[0-9]+")  # ASCII only: "¹" is a digit to str.isdigit
_SPACE_RE = re.compile(r"\s*")
_BRACES_RE = re.compile(r"[{}]")
_QUOTED_RE = re.compile(r'[{}"]')
_MONTHS = {m[:3]: m for m in ("january february march april may june july august september "
                              "october november december").split()}


class _Unreadable(Exception):
    """An entry that cannot be read; `str()` says why."""


@dataclass(frozen=True)
class ParsedBib:
    entries: tuple[dict, ...]                      # records: ID, ENTRYTYPE, fields in Unicode
    lines: tuple[int, ...]                         # the line each entry starts on
    unreadable: tuple[tuple[str, int, str], ...]   # (key as written, line, why) of the others


# --- structure ------------------------------------------------------------------------------------


class _Reader:
    """The cursor over one file's text, and the @string macros defined so far."""

    def __init__(self, text: str, name: str):
        self.text, self.name = text, name
        self.macros = {m: v.capitalize() for m, v in _MONTHS.items()}
        self.expanded = 0  # characters produced by macro uses so far

    def line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def skip_space(self, pos: int) -> int:
        return _SPACE_RE.match(self.text, pos).end()

    def entry(self, pos: int, end: int, close: str) -> tuple[dict, int]:
        """`key, name = value, ...` up to `close`: (record without ENTRYTYPE, position after)."""
        m = _KEY_RE.match(self.text, pos, end)
        record, pos = {"ID": m.group(1)}, m.end()
        while True:
            pos = self.skip_space(pos)
            if pos >= end:
                raise _Unreadable(f"its '{'{' if close == '}' else '('}' is not closed; check "
                                  "its braces and commas")
            char = self.text[pos]
            if char == close:
                return record, pos + 1
            if char != ",":
                raise _Unreadable(f"expected ',' or '{close}' but found {char!r}; check its "
                                  "braces and commas")
            pos = self.skip_space(pos + 1)
            if pos >= end or self.text[pos] in (close, ","):
                continue  # a trailing or doubled comma
            field, value, pos = self.assignment(pos, end)
            record.setdefault(field.lower(), value)  # the first of a repeated field wins

    def assignment(self, pos: int, end: int) -> tuple[str, str, int]:
        """`name = value # value ...`: (name, value, position after)."""
        m = _NAME_RE.match(self.text, pos, end)
        if not m or m.end() >= end or self.text[m.end()] != "=":
            found = self.text[pos:pos + 20].partition("\n")[0]
            raise _Unreadable(f"a field name and '=' were expected at {found!r}; check its "
                              "braces and commas")
        name = m.group(1)
        parts, size, expanded = [], 0, False
        pos = m.end() + 1
        while True:
            pos = self.skip_space(pos)
            char = self.text[pos] if pos < end else ""
            if char in ("{", '"'):
                stop = self.closing(pos, end)
                if stop < 0:
                    raise _Unreadable(f"the braces or quotes of '{name}' are not balanced")
                part, pos = self.text[pos + 1:stop], stop + 1
            elif number := _NUMBER_RE.match(self.text, pos, end):
                part, pos = number.group(), number.end()
            elif macro := _NAME_RE.match(self.text, pos, end):
                part, expanded = self.expand(macro.group(1), pos), True
                pos = macro.end()
            else:
                raise _Unreadable(f"field '{name}' has no value")
            parts.append(part)
            size += len(part)
            if expanded and size > MAX_VALUE_CHARS:
                raise BibtexError(f"{self.name} line {self.line_of(pos)}: '{name}' expands to "
                                  f"over {MAX_VALUE_CHARS:,} characters through @string macros "
                                  "(a macro bomb?); the file is refused")
            pos = self.skip_space(pos)
            if pos >= end or self.text[pos] != "#":
                return name, "".join(parts), pos
            pos += 1

    def closing(self, pos: int, end: int) -> int:
        """Where the `{...}` or `"..."` value opened at `pos` ends (BibTeX counts every brace);
        -1 if it does not end before `end`."""
        quoted = self.text[pos] == '"'
        depth = 0 if quoted else 1
        for m in (_QUOTED_RE if quoted else _BRACES_RE).finditer(self.text, pos + 1, end):
            char = m.group()
            if char == '"':
                if depth == 0:
                    return m.start()
                continue
            depth += 1 if char == "{" else -1
            if depth == 0 and not quoted:
                return m.start()
            if depth < 0:
                break
        return -1

    def expand(self, macro: str, pos: int) -> str:
        value = self.macros.get(macro.lower())
        if value is None:
            raise _Unreadable(f"it uses @string '{macro}', which the file does not define")
        self.expanded += len(value)
        if self.expanded > MAX_EXPANDED_CHARS:
            raise BibtexError(f"{self.name} line {self.line_of(pos)}: @string macros expand to "
                              f"over {MAX_EXPANDED_CHARS:,} characters in all (a macro bomb?); "
                              "the file is refused")
        return value

    def define(self, pos: int, end: int, close: str) -> int:
        """`@string{name = value}`: the macro, expanded now; the position after it."""
        name, value, pos = self.assignment(self.skip_space(pos), end)
        pos = self.skip_space(pos)
        if pos >= end or self.text[pos] != close:
            raise _Unreadable(f"@string '{name}' is not closed with '{close}'")
        self.macros[name.lower()] = value
        return pos + 1


def parse_bibtex(text: str, name: str = "the .bib file") -> ParsedBib:
    """Parse BibTeX text; every entry that cannot be read is reported with its line and why."""
    if "\x00" in text:
        raise BibtexError(f"{name} contains NUL bytes; it is not a BibTeX text file")
    reader = _Reader(text, name)
    entries, lines, unreadable = [], [], []
    starts = [0] + [m.start() for m in _LINE_START_RE.finditer(text)] + [len(text)]
    line, counted = 1, 0
    for start, end in itertools.pairwise(starts):
        pos = start
        while m := _AT_RE.search(text, pos, end):
            line += text.count("\n", counted, m.start())
            counted = m.start()
            kind, close = m.group(1).lower(), "}" if m.group(2) == "{" else ")"
            if kind in ("comment", "preamble"):
                break  # what follows up to the next line-start entry is their text
            try:
                if kind == "string":
                    pos = reader.define(m.end(), end, close)
                    continue
                record, pos = reader.entry(m.end(), end, close)
                record["ENTRYTYPE"] = kind
                entries.append(_decode_record(record))
                lines.append(line)
            except _Unreadable as exc:
                key = "@string" if kind == "string" else _KEY_RE.match(text, m.end()).group(1)
                unreadable.append((key or "(no key)", line, str(exc)))
                break
    return ParsedBib(tuple(entries), tuple(lines), tuple(unreadable))


# --- LaTeX -> Unicode -----------------------------------------------------------------------------

# what `_latex_to_text` shields from the decoder, and the text it stands for: the escapes
# `bibtex.latex_escape` writes, and \'n, which the table gets wrong
_UNESCAPE = tuple((re.compile(pattern), plain) for pattern, plain in (
    (r"\\textbackslash\{\}", "\\"), (r"\\textasciitilde\{\}", "~"),
    (r"\\textasciicircum\{\}", "^"), (r"\\textbraceleft\{\}", "{"),
    (r"\\textbraceright\{\}", "}"), (r"\\\$", "$"), (r"\\&", "&"), (r"\\%", "%"),
    (r"\\#", "#"), (r"\\_", "_"), (r"\\'\{?n\}?", "ń"), (r"\\'\{?N\}?", "Ń")))
_PLACEHOLDER = "\ue000{}\ue001"
_ROW_START_RE = re.compile(r"[\\{].")
_CONTROL_WORD_RE = re.compile(r"\\[A-Za-z]+")


class _LatexTable:
    """(Unicode, LaTeX) rows applied in order, as bibtexparser's `latex_to_unicode` does, but
    trying only the rows whose first two characters occur in the text."""

    def __init__(self, rows):
        self.rows = tuple((u, latex.rstrip()) for u, latex in rows)
        self.by_start: dict[str, list[int]] = {}
        for i, (_, latex) in enumerate(self.rows):
            self.by_start.setdefault(latex[:2], []).append(i)

    def apply(self, value: str) -> str:
        done = -1
        while True:
            todo = sorted({i for m in _ROW_START_RE.finditer(value)
                           for i in self.by_start.get(m.group(), ()) if i > done})
            for i in todo:
                uni, latex = self.rows[i]
                done = i
                if latex not in value:
                    continue
                if unicodedata.combining(uni):  # the accent goes after the next character
                    value = re.sub(re.escape(latex) + "(.?)", lambda m, u=uni: m.group(1) + u,
                                   value, flags=re.DOTALL)
                elif _CONTROL_WORD_RE.fullmatch(latex):  # `\l` is not the start of `\log`
                    value = re.sub(re.escape(latex) + "(?![A-Za-z])", lambda _, u=uni: u, value)
                else:
                    value = value.replace(latex, uni)
                break  # the text may have changed: look again for the rows that can match now
            else:
                return value


@functools.cache
def _tables() -> tuple[_LatexTable, _LatexTable]:
    """bibtexparser's table less the rows whose Unicode side is not one character (`\\;` and
    27 others: they make it raise `TypeError`) and those not starting with a backslash or a
    brace (they turn plain `,,` or `:=` into „ or ≔), plus the math spaces; and its table for
    accents whose letter was braced (`\\'{e}` once braces are gone)."""
    from bibtexparser import latexenc

    rows = [(" ", "\\;"), (" ", "\\,"), (" ", "\\:")]
    rows += [(u, latex) for u, latex in itertools.chain(latexenc.unicode_to_crappy_latex1,
                                                        latexenc.unicode_to_latex)
             if len(u) == 1 and latex[:1] in ("\\", "{")]
    return _LatexTable(rows), _LatexTable(latexenc.unicode_to_crappy_latex2)


def _latex_to_text(value: str) -> str:
    """LaTeX to plain Unicode text on one line, keeping the escapes `bibtex.latex_escape`
    writes (they stand for the character itself)."""
    if "\\" in value:
        table, braced_accents = _tables()
        for i, (pattern, _) in enumerate(_UNESCAPE):
            value = pattern.sub(_PLACEHOLDER.format(i), value)
        value = table.apply(value).replace("{", "").replace("}", "")
        if "\\" in value:
            value = braced_accents.apply(value)
        for i, (_, plain) in enumerate(_UNESCAPE):
            value = value.replace(_PLACEHOLDER.format(i), plain)
    else:
        value = value.replace("{", "").replace("}", "")
    return " ".join(unicodedata.normalize("NFC", value).split())


def _decode_record(record: dict) -> dict:
    return {k: v if k == "ID" else _latex_to_text(v) for k, v in record.items()}
