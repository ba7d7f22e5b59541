"""Does the workbench keep up with a department-wide reading list (issue 16, item 13)?

Generates a catalog of 20,000 papers (3.6 MB of YAML: ids, titles, two authors, year, topic and
up to three `cites` each, like the shipped catalog's entries without abstracts) and times, as
whole `workbench` processes the way a user runs them:

  check (cold)    `workbench check`, nothing cached               goal <= 2 s
  check (warm)    `workbench check` again (validated catalog cached by content)
  add one paper   `workbench bib import one.bib --yes`            goal <= 1 s
  import 4,000    `workbench bib import 4000.bib --yes`           goal <= 30 s
  graph stats     `workbench graph stats`                         goal <= 3 s

and, as the reference measured in the same run, what the old loader did for `check`: a full
ruamel.yaml round-trip parse of the same file (the step that took 35.7 s before).
The best of `--repeat` runs is printed (the machine is shared; the best run is the least
disturbed one), with CPU seconds beside wall seconds.

Usage: `python benchmarks/catalog_scale.py [--papers 20000] [--repeat 3]`
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS = ["cnns", "transformers", "graphs", "sequences"]


def catalog_text(n: int, seed: int = 0) -> str:
    rnd = random.Random(seed)
    out = ["# a generated department-wide reading list\ntopics:\n"]
    out += [f"  - id: {t}\n    title: Topic {t}\n" for t in TOPICS]
    out.append("\npapers:\n")
    for i in range(n):
        cites = sorted({f"p{rnd.randrange(i)}" for _ in range(min(i, 3))}, key=lambda s: int(s[1:]))
        out.append(f"  - id: p{i}\n    title: A study of thing number {i} in deep learning\n"
                   f"    authors: [Ada Lovelace, Alan Turing]\n    year: {1990 + i * 30 // n}\n"
                   f"    topic: {TOPICS[i % 4]}\n"
                   + (f"    cites: [{', '.join(cites)}]\n" if cites else ""))
    return "".join(out)


def bib_text(n: int, tag: str) -> str:
    """`n` Better BibTeX-like entries (journal articles and arXiv preprints)."""
    rnd = random.Random(n)
    entries = []
    for i in range(n):
        if i % 2:
            entries.append(
                f"@article{{{tag}{i},\n  title = {{{{Imported}} study {tag} {i} of scale}},\n"
                f"  author = {{Writer, Alice and Tester, Bob and Person{i}, Carol}},\n"
                f"  year = {{{2000 + rnd.randrange(25)}}},\n  journal = {{Journal of Tests}},\n"
                f"  volume = {{{rnd.randrange(1, 40)}}},\n  pages = {{1--{rnd.randrange(2, 30)}}},\n"
                f"  doi = {{10.1234/{tag}.{i}}},\n  keywords = {{scale, benchmark}}\n}}\n")
        else:
            entries.append(
                f"@misc{{{tag}{i},\n  title = {{Preprint {tag} {i}: Learning at scale}},\n"
                f"  author = {{Doe, Jane and Roe, Richard}},\n  year = {{2021}},\n"
                f"  eprint = {{2101.{10000 + i:05d}}},\n  archiveprefix = {{arXiv}},\n"
                f"  primaryclass = {{cs.LG}}\n}}\n")
    return "\n".join(entries)


def timed(argv: list[str], env: dict, setup=None) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, its output) of one run of `argv`."""
    if setup:
        setup()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return wall, cpu, proc.stdout + proc.stderr


def best(runs: list[tuple[float, float, str]]) -> tuple[float, float, str]:
    return min(runs, key=lambda r: r[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=20_000)
    ap.add_argument("--import-entries", type=int, default=4_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="catalog-scale-"))
    ws, cache = tmp / "ws", tmp / "cache"
    ws.mkdir()
    text = catalog_text(args.papers)
    master = tmp / "papers.yaml"
    master.write_text(text, encoding="utf-8")
    (tmp / "one.bib").write_text(bib_text(1, "one"), encoding="utf-8")
    (tmp / "many.bib").write_text(bib_text(args.import_entries, "many"), encoding="utf-8")
    env = {**os.environ, "WORKBENCH_WORKSPACE": str(ws), "WORKBENCH_CACHE_DIR": str(cache),
           "WORKBENCH_OFFLINE": "1"}
    wb = [sys.executable, "-m", "workbench"]
    print(f"catalog: {args.papers:,} papers, {len(text.encode()) / 1e6:.1f} MB; "
          f"best of {args.repeat}; wall s (CPU s)")

    def fresh_catalog():
        shutil.copy(master, ws / "papers.yaml")
        os.utime(ws / "papers.yaml", (time.time() - 10, time.time() - 10))

    def cold():
        fresh_catalog()
        shutil.rmtree(cache, ignore_errors=True)

    # the reference: the old loader's full ruamel round-trip parse, in this process
    from ruamel.yaml import YAML
    ref = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        YAML(typ="rt").load(text)
        ref.append(time.perf_counter() - t0)
    ref_s = min(ref)

    results = {}
    results["check (cold)"] = best([timed(wb + ["check"], env, cold) for _ in range(args.repeat)])
    results["check (warm)"] = best([timed(wb + ["check"], env) for _ in range(args.repeat)])
    results["add one paper"] = best([timed(wb + ["bib", "import", str(tmp / "one.bib"),
                                                 "--topic", "cnns", "--yes"], env, fresh_catalog)
                                     for _ in range(args.repeat)])
    results["import 4,000"] = best([timed(wb + ["bib", "import", str(tmp / "many.bib"),
                                                "--topic", "cnns", "--yes"], env, fresh_catalog)
                                    for _ in range(max(1, args.repeat - 1))])
    fresh_catalog()
    results["graph stats"] = best([timed(wb + ["graph", "stats"], env)
                                   for _ in range(args.repeat)])
    goals = {"check (cold)": 2.0, "add one paper": 1.0, "import 4,000": 30.0,
             "graph stats": 3.0}
    print(f"  {'reference: ruamel round-trip parse (old check)':<48} {ref_s:6.2f} s")
    for name, (wall, cpu, _out) in results.items():
        goal = goals.get(name)
        verdict = "" if goal is None else (f"goal <= {goal:g} s: " +
                                          ("met" if wall <= goal else "MISSED"))
        print(f"  {name:<48} {wall:6.2f} s ({cpu:5.2f})  {ref_s / wall:5.1f}x the reference  "
              f"{verdict}")
    added = [ln for ln in results["import 4,000"][2].splitlines() if "added" in ln]
    print(f"  import said: {added[0][:100] if added else '(nothing)'}...")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
