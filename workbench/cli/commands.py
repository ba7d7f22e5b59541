"""The `workbench` command.

Each feature registers its subcommands in `COMMANDS` below (one `add_*` function each). A
command returns an exit code; a `WorkbenchError` (or an `OSError`: a read-only workspace, a
full disk) becomes one line on stderr and exit code 1, never a traceback. The small commands live here; the two big families have their own modules:
`cli_graph` (`workbench graph`) and `cli_repro` (`workbench repro`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from workbench import __version__, runs
from workbench.cli.args import check_out_path, reader_from, workspace_from, write_out
from workbench.cli.graph import add_graph
from workbench.cli.repro import add_repro
from workbench.errors import WorkbenchError, closest

log = logging.getLogger("workbench")


# --- app ---------------------------------------------------------------------------------------


DESCRIBE_DELAY_S = 6.0  # the describe child starts after the cold start (~4 s on 2 cores)


def cmd_app(args) -> int:
    """Start the Streamlit app (localhost only, unless --address and --auth say otherwise)."""
    import subprocess

    from workbench.app import serving
    from workbench.runs import python_env

    ws = workspace_from(args)
    served = serving.serving(args.address, args.auth, ws.root)  # no sign-in: loopback only
    main = Path(__file__).parent.parent / "app" / "main.py"
    # python_env: `python -m ...` in a cloned workspace must not import its streamlit/;
    # workbench.app.launch is Streamlit's command line with the first page's imports warmed
    env = python_env(WORKBENCH_WORKSPACE=str(ws.root), **served.env())
    argv = [
        sys.executable, "-m", "workbench.app.launch", "run", str(main),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.maxUploadSize", "60", *served.streamlit_args(),
    ]
    print(f"Workbench on http://{args.address}:{args.port}  (workspace: {ws.root})", flush=True)
    if served.auth_file:
        print(f"Sign-in required ({served.auth_file}); runs may be launched by: "
              f"{', '.join(sorted(served.runners))} (${serving.RUNNERS_ENV})", flush=True)
    # the Reproduce page's settings: described into the workspace cache once the first page is
    # drawn (the child imports torch and every reproduction: begun with Streamlit, even at low
    # priority it cost the cold start ~0.5 s of a 2-core machine); a failure is said by that page
    runs.describe_in_background(ws, delay=DESCRIBE_DELAY_S)
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 0


def add_app(sub) -> None:
    p = sub.add_parser("app", help="start the app (http://localhost:8501)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (default: 127.0.0.1, this machine only; "
                   "any other needs --auth)")
    p.add_argument("--auth", default=os.environ.get("WORKBENCH_AUTH_FILE"), metavar="FILE",
                   help="sign-in (OpenID Connect) settings: a TOML file with Streamlit's [auth] "
                   "section, outside the workspace (default: $WORKBENCH_AUTH_FILE)")
    p.set_defaults(func=cmd_app)


# --- check -------------------------------------------------------------------------------------


def cmd_check(args) -> int:
    from workbench import catalog

    path = Path(args.path) if args.path else workspace_from(args).catalog_path
    cat, problems = catalog.check(path)
    for problem in problems:
        print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
    if cat is None:
        errors = sum(1 for p in problems if p.severity == "error")
        print(f"{path}: {errors} problem{'s' if errors != 1 else ''}; fix them and run "
              "`workbench check` again", file=sys.stderr)
        return 1
    warn = len(cat.warnings)
    print(f"OK: {path.name} is valid: {len(cat)} papers in {len(cat.topics)} topics"
          + (f", {warn} warning{'s' if warn != 1 else ''}" if warn else ""))
    return 0


def add_check(sub) -> None:
    p = sub.add_parser("check", help="validate papers.yaml and list every problem")
    p.add_argument("path", nargs="?", help="catalog file (default: the workspace's papers.yaml)")
    p.set_defaults(func=cmd_check)


# --- notes and reading status ----------------------------------------------------------------


def cmd_notes(args) -> int:
    """Print (or write) one reader's notes on a paper as Markdown."""
    from workbench import catalog
    from workbench.notes import export_markdown, load_note

    ws, reader = workspace_from(args), reader_from(args)
    out = check_out_path(args.out) if args.out else None
    try:
        cat = catalog.load(ws.catalog_path)
    except WorkbenchError as exc:  # the notes are still worth exporting, without the title
        print(f"warning: {exc}; exporting without the catalog's title", file=sys.stderr)
        cat = None
    paper = cat.get(args.paper) if cat is not None else None
    if cat is not None and paper is None:
        close = closest(args.paper, cat.by_id)
        hint = f"; did you mean '{close}'?" if close else "; `workbench status` lists them"
        raise WorkbenchError(f"no paper '{args.paper}' in {ws.catalog_path.name}{hint}")
    note, version = load_note(ws, args.paper, reader)
    if version is None:
        raise WorkbenchError(f"{reader} has no notes on '{args.paper}' yet; start pass 1 on the "
                             "Read page (`workbench app`)")
    write_out(out, export_markdown(note, paper))
    return 0


def cmd_status(args) -> int:
    """Reading status of every paper for one reader, the group, and per topic."""
    from workbench import catalog
    from workbench.notes import load_progress, status_table

    ws, reader = workspace_from(args), reader_from(args)
    print(status_table(catalog.load(ws.catalog_path), load_progress(ws), reader))
    return 0


def add_notes(sub) -> None:
    p = sub.add_parser("notes", help="a reader's notes on a paper as Markdown")
    p.add_argument("paper", help="paper id, e.g. resnet")
    p.add_argument("--reader", help="reader (default: $WORKBENCH_READER or your user name)")
    p.add_argument("--out", help="write to this file instead of printing")
    p.set_defaults(func=cmd_notes)
    p = sub.add_parser("status", help="reading progress: each paper's pass, per reader and topic")
    p.add_argument("--reader", help="reader (default: $WORKBENCH_READER or your user name)")
    p.set_defaults(func=cmd_status)


# --- adding papers and the source cache ------------------------------------------------------


def _confirm(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:  # not a terminal: never add without --yes
        print()
        return False


def cmd_add(args) -> int:
    from workbench import intake as add_mod
    from workbench.sources import open_sources

    ws = workspace_from(args)
    src = open_sources(ws, offline=True if args.offline else None)
    proposal = add_mod.propose(ws, args.query, args.topic, sources=src,
                               with_cites=not args.no_cites)
    for note in src.notices:
        print(f"note: {note}", file=sys.stderr)
    print("\n".join(proposal.summary_lines()))
    if not args.yes and not _confirm(f"Add '{proposal.id}' to {ws.catalog_path.name}? [y/N] "):
        print("not added (answer y, or pass --yes)", file=sys.stderr)
        return 1
    paper = add_mod.save(ws, proposal, pdf=args.pdf, sources=src)
    print(f"added '{paper.id}' to {ws.catalog_path} (line {paper.line})"
          + (" with its PDF in pdfs/" if args.pdf else ""))
    return 0


def add_add(sub) -> None:
    p = sub.add_parser("add", help="add a paper by arXiv id, arXiv URL, DOI or title")
    p.add_argument("query", help="e.g. 1706.03762, https://arxiv.org/abs/1512.03385, "
                   "10.1109/CVPR.2016.90 or \"Attention is all you need\"")
    p.add_argument("--topic", help="topic id for the new entry (needed if there are several)")
    p.add_argument("--yes", "-y", action="store_true", help="add without asking")
    p.add_argument("--pdf", action="store_true", help="also download the arXiv PDF into pdfs/")
    p.add_argument("--offline", action="store_true",
                   help="use only the response cache (also: WORKBENCH_OFFLINE=1)")
    p.add_argument("--no-cites", action="store_true",
                   help="skip Semantic Scholar references (no cites edges)")
    p.set_defaults(func=cmd_add)


def cmd_cache(args) -> int:
    from workbench.sources import ResponseCache, Settings

    cache = ResponseCache.for_workspace(workspace_from(args), Settings.from_env())
    if args.action == "export":
        n = cache.export_bundle(args.file)
        print(f"exported {n} cached responses to {args.file}")
    elif args.action == "import":
        summary = cache.import_bundle(args.file)
        print(f"imported {args.file}: {summary}")
    else:
        print("\n".join(cache.info().lines()))
    return 0


def add_cache(sub) -> None:
    p = sub.add_parser("cache", help="share the arXiv / Semantic Scholar response cache")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = csub.add_parser("export", help="write every cached response to FILE (gzip JSON)")
    q.add_argument("file")
    q = csub.add_parser("import", help="merge a bundle from `cache export` (newer wins)")
    q.add_argument("file")
    csub.add_parser("info", help="where the cache is, how many responses, how old")
    p.set_defaults(func=cmd_cache)


# --- paper PDFs ----------------------------------------------------------------------------------


def cmd_pdf(args) -> int:
    import json

    from workbench import pdf
    from workbench.pdf import find_pdf

    ws = workspace_from(args)
    path = find_pdf(ws, args.paper, download=args.download)

    def progress(done: int, total: int) -> None:  # a scan: seconds a page
        print(f"\rOCR of {total} page(s) without a text layer: {done} of {total}",
              end="\n" if done == total else "", file=sys.stderr, flush=True)

    structure = pdf.extract(path, cache_dir=None if args.no_cache else pdf.pdf_cache_dir(ws),
                            progress=progress)
    if args.json:
        print(json.dumps(structure.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(f"{path}\n{structure.summary()}")
    return 0


def add_pdf(sub) -> None:
    p = sub.add_parser("pdf", help="extract title, sections, figures and references from a PDF")
    p.add_argument("paper", metavar="PAPER_OR_PATH", help="a paper id from papers.yaml or a PDF file")
    p.add_argument("--json", action="store_true", help="print the whole structure as JSON")
    p.add_argument("--download", action="store_true",
                   help="fetch the arXiv PDF into pdfs/ if the paper has none yet")
    p.add_argument("--no-cache", action="store_true", help="extract again, ignoring .workbench/pdf/")
    p.set_defaults(func=cmd_pdf)


# --- session handouts and BibTeX -------------------------------------------------------------------


def cmd_handout(args) -> int:
    """A handout (md, html, pdf) or a Marp deck (slides) for a session or one paper."""
    from workbench import sessions as handout
    from workbench import sessions as handout_export

    ws = workspace_from(args)
    if args.format not in handout_export.FORMATS:
        raise handout.HandoutError(f"unknown format '{args.format}'; use one of: "
                                   f"{', '.join(handout_export.FORMATS)}")
    h = handout.handout_for(ws, args.target)
    out = args.out or handout_export.default_name(h, args.format)
    if out.endswith(("/", os.sep)) and not Path(out).exists():  # `new/` asks for that folder
        folder = check_out_path(out.rstrip("/" + os.sep))  # in a folder that exists
        try:
            folder.mkdir()
        except OSError as exc:
            raise handout.HandoutError(f"cannot create {folder}: {exc.strerror}") from None
        print(f"created folder {folder}")
    if Path(out).is_dir():  # a folder: the default name in it
        out = Path(out) / handout_export.default_name(h, args.format)
    out = check_out_path(out)
    written = handout_export.export(h, args.format, out.name).write(out)
    print(f"wrote {out} ({len(h.papers)} paper{'s' if len(h.papers) != 1 else ''}"
          + (f", {len(written) - 1} figure files in {written[1].parent}" if len(written) > 1
             else "") + ")")
    for line in handout.missing_lines(h):
        print(f"  {line}")
    return 0


def add_handout(sub) -> None:
    p = sub.add_parser("handout", help="session handout (md, html, pdf) or Marp slides")
    p.add_argument("target", metavar="SESSION|PAPER",
                   help="a session (sessions/NAME.yaml) or a paper id")
    p.add_argument("--format", default="pdf", help="md | html | pdf | slides (default: pdf)")
    p.add_argument("--out", help="file or folder/ to write (default: TARGET-handout.EXT or "
                   "TARGET-slides.md); figures for md/slides go to a folder next to it")
    p.set_defaults(func=cmd_handout)


def cmd_bib(args) -> int:
    from workbench import catalog
    from workbench import catalog as bibtex
    from workbench import intake as bibtex_import

    ws = workspace_from(args)
    if args.bib_command == "export":
        out = check_out_path(args.out) if args.out else None
        cat = catalog.load(ws.catalog_path)
        ids = None
        if args.session:
            from workbench import sessions

            ids = sessions.load_session(ws, args.session, cat)[0].papers
        write_out(out, bibtex.export_bibtex(cat, ids),
                  f" ({len(ids) if ids else len(cat)} entries)")
        return 0
    plan = bibtex_import.plan_import(ws, bibtex_import.read_bib_file(args.file), args.topic,
                                     Path(args.file).name)
    print("\n".join(plan.lines()))
    if not plan.new:
        print("nothing to add")
        return 0
    if not args.yes and not _confirm(f"Add {len(plan.new)} paper(s) to "
                                     f"{ws.catalog_path.name}? [y/N] "):
        print("not added (answer y, or pass --yes)", file=sys.stderr)
        return 1
    result = bibtex_import.apply_import(ws, plan)
    print(f"added {len(result.added)} paper(s) to {ws.catalog_path}: "
          f"{', '.join(p.id for p in result.added) or 'none'}")
    for key, why in result.skipped[len(plan.skipped):]:
        print(f"  - {key}: {why}")
    return 0


def add_bib(sub) -> None:
    p = sub.add_parser("bib", help="BibTeX: export the catalog or a session, import a .bib")
    bsub = p.add_subparsers(dest="bib_command", metavar="ACTION", required=True)
    q = bsub.add_parser("export", help="write BibTeX with stable citation keys")
    q.add_argument("--session", help="only this session's papers, in its order")
    q.add_argument("--out", help="file to write (default: print)")
    q = bsub.add_parser("import", help="add a .bib file's entries (Zotero / Better BibTeX) "
                        "to the catalog, skipping duplicates")
    q.add_argument("file")
    q.add_argument("--topic", help="topic id for the new entries (needed if there are several)")
    q.add_argument("--yes", "-y", action="store_true", help="add without asking")
    p.set_defaults(func=cmd_bib)


# --- registry of subcommands -------------------------------------------------------------------
# Features add their `add_*` function here (one line each).
COMMANDS = [add_app, add_check, add_notes, add_graph, add_add, add_cache, add_repro, add_pdf,
            add_handout, add_bib]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Read papers with the three-pass method, explore citations, reproduce.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("--workspace", help="workspace folder (default: $WORKBENCH_WORKSPACE, "
                        "the current folder if it has papers.yaml, else the checkout)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file a command had to write: a read-only workspace, a full disk
        log.debug("%s", exc, exc_info=True)
        print(f"error: {f'{exc.filename}: ' if exc.filename else ''}{exc.strerror or exc}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
