"""`workbench graph`: the citation graph from the command line.

Queries: `stats`, `order` (what to read before a paper), `path`, `similar` and `export`
(GraphML, JSON, SVG, PNG); `harvest` lists the citations the PDFs show and the catalog lacks. The graph is built offline from the catalog, the response cache and
the PDFs; networkx is imported only when a query runs.
"""

from __future__ import annotations

import sys

from workbench.cli.args import check_out_path, reader_from, workspace_from


def _graph_stats(g, args) -> int:
    from workbench import graph as graph_queries

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
    from workbench import graph as graph_queries

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
    from workbench import graph as graph_queries

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
    from workbench import catalog, graph
    from workbench import graph as graph_draw

    if args.format not in graph_draw.EXPORT_FORMATS:
        raise graph.GraphError(f"unknown export format '{args.format}'; use one of: "
                               f"{', '.join(graph_draw.EXPORT_FORMATS)}")
    out = check_out_path(args.out or f"citation-graph.{args.format}")
    view = None
    if args.center or args.format in ("svg", "png"):
        topics = {t.id: t.title for t in catalog.load(workspace_from(args).catalog_path).topics}
        view = graph_draw.make_view(g, args.center, hops=args.hops, direction=args.direction,
                                    colour_by=args.colour_by, topics=topics)
    data = graph_draw.export(view.graph if view else g, args.format, view)
    try:
        graph_draw.write_export(data, out)
    except OSError as exc:
        raise graph.GraphError(f"cannot write {out}: {exc.strerror}") from None
    shown = view.graph if view else g
    print(f"wrote {out} ({shown.number_of_nodes()} papers, {shown.number_of_edges()} citations)")
    return 0


def cmd_harvest(args) -> int:
    """`graph harvest [--apply]`: citations the PDFs show and the catalog lacks, with evidence."""
    from workbench import catalog, graph

    ws = workspace_from(args)
    cat = catalog.load(ws.catalog_path)
    found, skipped = graph.harvest(ws, cat, progress=lambda pid: print(
        f"reading {pid}'s PDF…", file=sys.stderr, flush=True))
    for pid, why in skipped:
        print(f"skipped {pid}: {why}", file=sys.stderr)
    for f in found:
        later = f" (published {f.years_later} years later: check)" if f.years_later > 1 else ""
        print(f"{f.citing} -> {f.cited} [{f.method} {f.score:.2f}]{later}\n    {f.evidence}")
    if not found:
        print("no citation in the PDFs is missing from the catalog")
        return 0
    if not args.apply:
        print(f"{len(found)} citation(s) missing; read each entry, then add them with --apply")
        return 0
    wanted: dict[str, list[str]] = {}
    for f in found:
        wanted.setdefault(f.citing, []).append(f.cited)
    added = catalog.add_citations(ws.catalog_path, wanted)
    total = sum(len(c) for c in added.values())
    print(f"added {total} citation(s) to {len(added)} paper(s) in {ws.catalog_path.name}")
    return 0


def cmd_graph(args) -> int:
    """The citation graph, built offline from the catalog, the cache and the PDFs."""
    from workbench import graph

    reader = reader_from(args) if getattr(args, "reader", None) else None
    g = graph.load_workspace_graph(workspace_from(args), reader=reader)
    return args.graph_func(g, args)


def add_graph(sub) -> None:
    # no `choices=` from workbench.graph.build*: importing networkx here would slow every command;
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
    q = gsub.add_parser("harvest", help="citations the workspace's PDFs show and the catalog "
                        "lacks, with the printed entry; --apply adds them to papers.yaml")
    q.add_argument("--apply", action="store_true", help="write them into papers.yaml (comments "
                   "and order kept)")
    q.set_defaults(func=cmd_harvest)
