"""How fast is the citation graph at a realistic scale?

Builds a synthetic power-law citation graph of 10,000 papers and 100,000 citations, grown by
preferential attachment over time (paper i cites earlier papers with probability proportional
to 1 + their citations so far, so the graph is a DAG with a heavy-tailed in-degree), then times
each operation the app and the CLI run on every request:

  build           build_graph(catalog) from the papers' `cites` lists
  pagerank        PageRank over the whole graph
  similarity      similar_papers() for the most cited paper (the most co-citation work)
  reading order   reading_order() for the recent paper with the most prerequisites
  layout          neighbourhood of 200 papers + seeded spring layout

Each must take <= 1 s. Usage: `python benchmarks/graph_bench.py [--repeat 3] [--seed 0]`;
the best of `--repeat` runs is printed (the machine is shared, so the best run is the
least disturbed one).
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import networkx as nx

from workbench.catalog.model import Catalog, Paper, Topic
from workbench.graph import build as g
from workbench.graph import draw as graph_draw
from workbench.graph import queries as graph_queries

N_PAPERS = 10_000
N_CITATIONS = 100_000
LIMIT_S = 1.0


def synthetic_catalog(n: int = N_PAPERS, m: int = N_CITATIONS, seed: int = 0) -> Catalog:
    """n papers in publication order; paper i cites k_i distinct earlier papers, chosen with
    probability proportional to (1 + citations so far); sum k_i = m exactly."""
    rng = random.Random(seed)
    base = m // n
    counts = [min(i, base) for i in range(n)]
    extra = m - sum(counts)
    for i in range(n - 1, -1, -1):  # the newest papers cite one more until the total is m
        if extra == 0:
            break
        if counts[i] < i:
            counts[i] += 1
            extra -= 1
    pool: list[int] = []  # each paper appears 1 + in-degree times
    topics = (Topic("t0", "Topic 0"), Topic("t1", "Topic 1"), Topic("t2", "Topic 2"))
    papers = []
    for i in range(n):
        cited: set[int] = set()
        while len(cited) < counts[i]:
            cited.add(pool[rng.randrange(len(pool))] if rng.random() < 0.9 or i < 2
                      else rng.randrange(i))
        pool.extend(cited)
        pool.append(i)
        papers.append(Paper(id=f"p{i}", title=f"Paper {i}", authors=("A. Author",),
                            year=1990 + i * 35 // n, topic=f"t{i % 3}",
                            cites=tuple(f"p{j}" for j in sorted(cited))))
    return Catalog(topics, tuple(papers))


def best_of(repeat: int, fn):
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    cat = synthetic_catalog(seed=args.seed)
    rows = []
    secs, graph = best_of(args.repeat, lambda: g.build_graph(cat))
    rows.append(("build", secs))
    assert graph.number_of_nodes() == N_PAPERS and graph.number_of_edges() == N_CITATIONS
    secs, _ = best_of(args.repeat, lambda: graph_queries.pagerank(graph))
    rows.append(("pagerank", secs))
    probe = max(graph, key=graph.in_degree)  # the most cited paper: the costliest co-citation
    secs, sim = best_of(args.repeat, lambda: graph_queries.similar_papers(graph, probe))
    rows.append((f"similarity ({probe}, {len(sim)} shown)", secs))
    # the recent paper with the most prerequisites (checked among the 50 newest, untimed)
    target = max((f"p{i}" for i in range(N_PAPERS - 50, N_PAPERS)),
                 key=lambda n: len(nx.descendants(graph, n)))
    secs, order = best_of(args.repeat, lambda: g.reading_order(graph, target))
    rows.append((f"reading order ({target}, {len(order.items)} papers)", secs))

    def view():
        sub = g.neighbourhood(graph, "p100", hops=2, max_nodes=200)
        return graph_draw.layout(sub)

    secs, pos = best_of(args.repeat, view)
    rows.append((f"layout ({len(pos)}-node neighbourhood)", secs))

    in_deg = sorted((d for _, d in graph.in_degree()), reverse=True)
    print(f"synthetic citation graph: {graph.number_of_nodes():,} papers, "
          f"{graph.number_of_edges():,} citations, max in-degree {in_deg[0]}, "
          f"median {in_deg[len(in_deg) // 2]} (best of {args.repeat})")
    ok = True
    for name, secs in rows:
        flag = "ok" if secs <= LIMIT_S else "TOO SLOW"
        ok &= secs <= LIMIT_S
        print(f"  {name:<40} {secs:7.3f} s  {flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
