"""Seconds to import a generated Better BibTeX library into a generated catalog, by stage.

    python benchmarks/bib_import_speed.py [--entries 4000] [--papers 20000] [--old-parser]

The library (`tests/hostile_bib.library_bib`, about 1 KB an entry as a Zotero export) goes
through `read_bib_file` + `parse_bibtex`, `plan_import` (which parses again) and `apply_import`
into a catalog of `--papers` papers, as `workbench bib import FILE --yes` does.
`--old-parser` also times bibtexparser 1.4's own reader on the same text (what the importer
used before: pyparsing plus its LaTeX decoder). Wall and CPU seconds of this process; on a shared
machine the CPU figure is the robust one.
Goal (issue 16, item 13): 4,000 entries into a 20,000-paper catalog in <= 30 s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(label: str, fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    print(f"{label:<34} {time.perf_counter() - w0:7.2f} s wall {time.process_time() - c0:7.2f}"
          " s CPU", flush=True)
    return out


def main() -> None:
    from tests.hostile_bib import catalog_yaml, library_bib
    from workbench.catalog import validate as catalog
    from workbench.errors import WorkbenchError
    from workbench.intake import bibtex_import
    from workbench.workspace import Workspace

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=4000)
    ap.add_argument("--papers", type=int, default=20000)
    ap.add_argument("--old-parser", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "papers.yaml").write_text(catalog_yaml(args.papers), encoding="utf-8")
        bib = root / "library.bib"
        bib.write_text(library_bib(args.entries), encoding="utf-8")
        print(f"{args.entries} entries ({bib.stat().st_size / 1e6:.1f} MB) into {args.papers} "
              "papers")
        ws = Workspace.resolve(root)
        text = bibtex_import.read_bib_file(bib)
        if args.old_parser:
            from bibtexparser.bparser import BibTexParser
            from bibtexparser.customization import convert_to_unicode

            parser = BibTexParser(common_strings=True, interpolate_strings=True,
                                  ignore_nonstandard_types=False)
            parser.customization = convert_to_unicode
            timed("parse (bibtexparser 1.4)", lambda: parser.parse(text))
        timed("parse (bibtex_parse)", lambda: bibtex_import.parse_bibtex(text, bib.name))
        total0 = time.perf_counter()
        plan = timed("plan_import (parse + check)",
                     lambda: bibtex_import.plan_import(ws, text, "cnns", bib.name))
        result = timed("apply_import (one write)", lambda: bibtex_import.apply_import(ws, plan))
        print(f"{'import, total':<34} {time.perf_counter() - total0:7.2f} s wall")
        print(f"added {len(result.added)}, skipped {len(result.skipped)}; papers.yaml "
              f"{ws.catalog_path.stat().st_size / 1e6:.1f} MB")
        try:
            print(f"catalog loads: {len(catalog.load(ws.catalog_path))} papers")
        except WorkbenchError as exc:
            print(f"catalog does not load: {exc}")


if __name__ == "__main__":
    main()
