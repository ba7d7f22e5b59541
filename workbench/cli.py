"""The `workbench` command.

Each feature registers its subcommands in `COMMANDS` below (one `add_*` function each). A
command returns an exit code; a `WorkbenchError` becomes one line on stderr and exit code 1,
never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.workspace import Workspace

log = logging.getLogger("workbench")


def _workspace(args) -> Workspace:
    return Workspace.resolve(getattr(args, "workspace", None))


# --- app ---------------------------------------------------------------------------------------


def cmd_app(args) -> int:
    """Start the Streamlit app (localhost only unless --address says otherwise)."""
    import subprocess

    ws = _workspace(args)
    main = Path(__file__).parent / "app" / "main.py"
    env = dict(os.environ, WORKBENCH_WORKSPACE=str(ws.root))
    argv = [
        sys.executable, "-m", "streamlit", "run", str(main),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.maxUploadSize", "60",
    ]
    print(f"Workbench on http://{args.address}:{args.port}  (workspace: {ws.root})", flush=True)
    try:
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 0


def add_app(sub) -> None:
    p = sub.add_parser("app", help="start the app (http://localhost:8501)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1",
                   help="interface to listen on (default: 127.0.0.1, this machine only)")
    p.set_defaults(func=cmd_app)


# --- check -------------------------------------------------------------------------------------


def cmd_check(args) -> int:
    from workbench import catalog

    path = Path(args.path) if args.path else _workspace(args).catalog_path
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


def _reader(args) -> str:
    from workbench.notes import default_reader
    from workbench.workspace import validate_slug

    return validate_slug(args.reader, "reader") if args.reader else default_reader()


def cmd_notes(args) -> int:
    """Print (or write) one reader's notes on a paper as Markdown."""
    from workbench import catalog
    from workbench.fileio import atomic_write_text
    from workbench.note_file import export_markdown, load_note

    ws, reader = _workspace(args), _reader(args)
    try:
        cat = catalog.load(ws.catalog_path)
    except WorkbenchError as exc:  # the notes are still worth exporting, without the title
        print(f"warning: {exc}; exporting without the catalog's title", file=sys.stderr)
        cat = None
    paper = cat.get(args.paper) if cat is not None else None
    if cat is not None and paper is None:
        import difflib

        close = difflib.get_close_matches(args.paper, list(cat.by_id), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "; `workbench status` lists them"
        raise WorkbenchError(f"no paper '{args.paper}' in {ws.catalog_path.name}{hint}")
    note, version = load_note(ws, args.paper, reader)
    if version is None:
        raise WorkbenchError(f"{reader} has no notes on '{args.paper}' yet; start pass 1 on the "
                             "Read page (`workbench app`)")
    text = export_markdown(note, paper)
    if args.out:
        atomic_write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_status(args) -> int:
    """Reading status of every paper for one reader, the group, and per topic."""
    from workbench import catalog
    from workbench.progress import load_progress, status_table

    ws, reader = _workspace(args), _reader(args)
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


# --- citation graph ------------------------------------------------------------------------------


def _graph_stats(g, args) -> int:
    from workbench import graph_queries

    s = graph_queries.graph_stats(g)
    by_source = ", ".join(f"{k} {v}" for k, v in s["citations_by_source"].items())
    print(f"citation graph: {s['papers']} papers ({s['in_catalog']} in the catalog), "
          f"{s['citations']} citations ({by_source})")
    print(f"{s['components']} connected components, {s['cycles']} citation cycles")
    top = ", ".join(f"{pid} {score:.3f}" for pid, score in s["foundational"])
    print(f"most foundational (PageRank): {top or 'none'}")
    return 0


def _graph_order(g, args) -> int:
    from workbench import graph

    read = {r.strip() for r in (args.read or "").split(",") if r.strip()}
    order = graph.reading_order(g, args.target, read=read, depth=args.depth)
    print(f"Reading order for {args.target} ({g.nodes[args.target]['title']}): "
          f"{len(order.items)} papers, cited before citing")
    for i, item in enumerate(order.items, 1):
        mark = "x" if item.read else " "
        tail = "  <- target" if item.is_target else ""
        print(f"{i:4d}. [{mark}] {item.id:<22} {item.year or '----'}  {item.title}{tail}")
    left = order.minutes_left()
    unread = sum(1 for i in order.items if not i.read)
    print(f"time for the {unread} unread: " + " · ".join(
        f"pass {k} {graph.format_minutes(m)}" for k, m in sorted(left.items())))
    return 0


def _graph_path(g, args) -> int:
    from workbench import graph_queries

    path = graph_queries.citation_path(g, args.a, args.b, undirected=args.undirected)
    if path is None:
        hint = "" if args.undirected else " (try --undirected)"
        print(f"no citation path between {args.a} and {args.b}{hint}", file=sys.stderr)
        return 1
    print(f"{args.a} -> {args.b}: {len(path) - 1} hop{'s' if len(path) != 2 else ''}")
    for line in graph_queries.describe_path(g, path):
        print(f"  {line}")
    return 0


def _graph_similar(g, args) -> int:
    from workbench import graph_queries

    found = graph_queries.similar_papers(g, args.paper, limit=args.limit)
    if not found:
        print(f"no paper shares a reference or a citer with {args.paper}")
        return 0
    print(f"{'paper':<24} {'score':>6} {'coupling':>8} {'co-cite':>7}  title")
    for s in found:
        print(f"{s.id:<24} {s.score:6.3f} {s.coupling:8.3f} {s.cocitation:7.3f}  "
              f"{g.nodes[s.id].get('title', s.id)}")
    return 0


def _graph_export(g, args) -> int:
    from workbench import catalog, graph, graph_draw

    if args.format not in graph_draw.EXPORT_FORMATS:
        raise graph.GraphError(f"unknown export format '{args.format}'; use one of: "
                               f"{', '.join(graph_draw.EXPORT_FORMATS)}")
    view = None
    if args.center or args.format in ("svg", "png"):
        topics = {t.id: t.title for t in catalog.load(_workspace(args).catalog_path).topics}
        view = graph_draw.make_view(g, args.center, hops=args.hops, direction=args.direction,
                                    colour_by=args.colour_by, topics=topics)
    out = args.out or f"citation-graph.{args.format}"
    data = graph_draw.export(view.graph if view else g, args.format, view)
    graph_draw.write_export(data, out)
    shown = view.graph if view else g
    print(f"wrote {out} ({shown.number_of_nodes()} papers, {shown.number_of_edges()} citations)")
    return 0


def cmd_graph(args) -> int:
    """The citation graph, built offline from the catalog, the cache and the PDFs."""
    from workbench import graph

    reader = _reader(args) if getattr(args, "reader", None) else None
    g = graph.load_workspace_graph(_workspace(args), reader=reader)
    return args.graph_func(g, args)


def add_graph(sub) -> None:
    # no `choices=` from workbench.graph*: importing networkx here would slow every command;
    # the graph functions reject a bad value with a one-line GraphError instead
    p = sub.add_parser("graph", help="citation graph: stats, reading order, paths, similar "
                       "papers, exports")
    p.add_argument("--reader", help="whose reading status to use (default: $WORKBENCH_READER "
                   "or your user name)")
    p.set_defaults(func=cmd_graph)
    gsub = p.add_subparsers(dest="graph_command", metavar="QUERY", required=True)
    q = gsub.add_parser("stats", help="papers, citations per source, most foundational")
    q.set_defaults(graph_func=_graph_stats)
    q = gsub.add_parser("order", help="what to read before TARGET, cited before citing")
    q.add_argument("target", help="paper id, e.g. clip")
    q.add_argument("--depth", type=int, help="only prerequisites within this many citations")
    q.add_argument("--read", help="comma-separated ids already read (besides your notes)")
    q.set_defaults(graph_func=_graph_order)
    q = gsub.add_parser("path", help="shortest chain of citations between two papers")
    q.add_argument("a")
    q.add_argument("b")
    q.add_argument("--undirected", action="store_true",
                   help="follow citations in either direction at every step")
    q.set_defaults(graph_func=_graph_path)
    q = gsub.add_parser("similar", help="papers similar by coupling and co-citation")
    q.add_argument("paper")
    q.add_argument("--limit", type=int, default=10)
    q.set_defaults(graph_func=_graph_similar)
    q = gsub.add_parser("export", help="GraphML, node-link JSON, or an SVG/PNG image")
    q.add_argument("format", help="graphml | json | svg | png")
    q.add_argument("--out", help="file to write (default: citation-graph.FORMAT)")
    q.add_argument("--center", help="export only this paper's neighbourhood (needed to draw "
                   "a graph of more than 300 papers)")
    q.add_argument("--hops", type=int, default=1)
    q.add_argument("--direction", default="both", help="references | cited-by | both")
    q.add_argument("--colour-by", default="topic", help="topic | year | status")
    q.set_defaults(graph_func=_graph_export)


# --- adding papers and the source cache ------------------------------------------------------


def _confirm(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:  # not a terminal: never add without --yes
        print()
        return False


def cmd_add(args) -> int:
    from workbench import add as add_mod
    from workbench.sources import open_sources

    ws = _workspace(args)
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
    from workbench.sources import Settings
    from workbench.sources.cache import ResponseCache

    cache = ResponseCache.for_workspace(_workspace(args), Settings.from_env())
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


# --- reproduction runs ---------------------------------------------------------------------------


def _watch_run(ws, run_id: str) -> int:
    """Follow a run in the foreground with a tqdm bar fed from its status.json; Ctrl-C cancels."""
    import time

    from tqdm import tqdm

    from workbench import run_queue, runs

    bar = tqdm(total=100, unit="%", bar_format="{desc}{percentage:3.0f}%|{bar}| "
               "[{elapsed}<{remaining}{postfix}]")
    try:
        while True:
            run_queue.pump(ws)
            run = runs.get_run(ws, run_id)
            queue = [r.id for r in runs.queued_runs(ws)]
            bar.set_description(f"{run.id} queued ({queue.index(run.id) + 1} in line)"
                                if run.id in queue else f"{run.variant} {run.step}/{run.steps}"
                                if run.steps else f"{run.id} starting", refresh=False)
            last = next((m for m in reversed(runs.read_metrics(run)) if "loss" in m), None)
            if last:
                bar.set_postfix(loss=f"{last['loss']:.4f}", refresh=False)
            bar.update(round(100 * run.fraction, 1) - bar.n)
            if run.state not in runs.ACTIVE:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        bar.close()
        run_queue.cancel(ws, run_id)
        print(f"{run_id}: cancelled")
        return 130
    bar.close()
    _print_run(run)
    return 0 if run.state == runs.DONE else 1


def _print_run(run) -> None:
    from workbench import run_results

    print(f"{run.id}: {run.state}  ({run.name}/{run.preset}"
          + "".join(f" {k}={v}" for k, v in run.overrides.items()) + ")")
    if run.error:
        print(f"error: {run.error}")
    if run.result:
        print(run_results.format_table(run_results.claim_rows(run)))
        print("  ".join(f"{k}: {v}" for k, v in run_results.environment(run).items()))
    print(f"run folder: {run.folder}")


def cmd_repro(args) -> int:
    from workbench import reproduction_info, run_queue, run_results, runs

    ws = _workspace(args)
    what = args.repro_command
    if what == "list":
        print(run_results.format_table([{"name": r["name"], "paper": r["paper"], "presets":
                                         ", ".join(r["presets"]), "title": r["title"]}
                                        for r in reproduction_info.list_reproductions(ws)]))
    elif what in ("run", "resume"):
        run = (run_queue.submit(ws, args.name, args.preset, args.set,
                                checkpoint_every=args.checkpoint_every) if what == "run"
               else run_queue.resume(ws, args.run))
        run_queue.pump(ws)
        if not args.detach:
            return _watch_run(ws, run.id)
        run_queue.ensure_supervisor(ws)
        run = runs.get_run(ws, run.id)
        print(f"{run.id}: {run.state}; follow it with `workbench repro status {run.id}`")
    elif what == "status":
        run_queue.pump(ws)
        if args.run:
            run = runs.get_run(ws, args.run)
            _print_run(run)
            if run.state != runs.DONE:
                print(runs.log_tail(run, args.lines))
        else:
            print(run_results.format_table(run_results.history_rows(runs.list_runs(ws)))
                  or "no runs yet")
    elif what == "cancel":
        print(f"{args.run}: {run_queue.cancel(ws, args.run).state}")
    elif what == "compare":
        tables = run_results.compare([runs.get_run(ws, r) for r in args.runs])
        for title, rows in tables.items():
            if rows:
                print(f"\n{title}\n{run_results.format_table(rows)}")
    elif what == "pump":
        if args.wait:
            if not run_queue.supervise(ws):
                print("another `workbench repro pump --wait` is already running")
            return 0
        print("\n".join(run_queue.pump(ws)) or "nothing to start")
    return 0


def add_repro(sub) -> None:
    p = sub.add_parser("repro", help="launch, watch, cancel and compare reproduction runs")
    rsub = p.add_subparsers(dest="repro_command", metavar="ACTION", required=True)
    rsub.add_parser("list", help="the reproductions and their presets")
    q = rsub.add_parser("run", help="run a reproduction (foreground with a progress bar)")
    q.add_argument("name", help="reproduction, e.g. resnet")
    q.add_argument("--preset", help="preset (default: mini)")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a Config field, checked before launch (e.g. --set lr=1e-3)")
    q.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                   help="also checkpoint every STEPS steps (default: every minute)")
    q.add_argument("--detach", action="store_true",
                   help="queue it and return; it runs in the background")
    q = rsub.add_parser("resume", help="continue a failed or cancelled run from its checkpoint")
    q.add_argument("run")
    q.add_argument("--detach", action="store_true")
    q = rsub.add_parser("status", help="every run, or one run's progress, verdicts and log")
    q.add_argument("run", nargs="?")
    q.add_argument("--lines", type=int, default=20, help="log lines to show (default 20)")
    q = rsub.add_parser("cancel", help="cancel a queued or running run")
    q.add_argument("run")
    q = rsub.add_parser("compare", help="runs side by side: config, metrics, claim verdicts")
    q.add_argument("runs", nargs="+", metavar="RUN")
    q = rsub.add_parser("pump", help="start queued runs while slots are free")
    q.add_argument("--wait", action="store_true",
                   help="keep starting them until the queue is empty (one such process at most)")
    p.set_defaults(func=cmd_repro)


# --- paper PDFs ----------------------------------------------------------------------------------


def cmd_pdf(args) -> int:
    import json

    from workbench import pdf
    from workbench.pdf_files import find_pdf

    ws = _workspace(args)
    path = find_pdf(ws, args.paper, download=args.download)
    structure = pdf.extract(path, cache_dir=None if args.no_cache else pdf.pdf_cache_dir(ws))
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
    from workbench import handout, handout_export

    ws = _workspace(args)
    if args.format not in handout_export.FORMATS:
        raise handout.HandoutError(f"unknown format '{args.format}'; use one of: "
                                   f"{', '.join(handout_export.FORMATS)}")
    h = handout.handout_for(ws, args.target)
    out = Path(args.out) if args.out else Path(handout_export.default_name(h, args.format))
    if out.is_dir() or (args.out or "").endswith(("/", os.sep)):  # a folder, maybe a new one
        out = out / handout_export.default_name(h, args.format)
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
    from workbench import bibtex, bibtex_import, catalog
    from workbench.fileio import atomic_write_text

    ws = _workspace(args)
    if args.bib_command == "export":
        cat = catalog.load(ws.catalog_path)
        ids = None
        if args.session:
            from workbench import sessions

            ids = sessions.load_session(ws, args.session, cat)[0].papers
        text = bibtex.export_bibtex(cat, ids)
        if args.out:
            try:
                atomic_write_text(args.out, text)
            except OSError as exc:
                raise WorkbenchError(f"cannot write {args.out}: {exc.strerror}") from None
            print(f"wrote {args.out} ({len(ids) if ids else len(cat)} entries)")
        else:
            sys.stdout.write(text)
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
