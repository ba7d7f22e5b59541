"""Quality of `workbench.pdf.document.extract` on the course's real PDFs against their hand-checked
ground truth (`../shared/pdfs/ground_truth.yaml`), as the table of issue 4, item 6.

    python benchmarks/pdf_quality.py [--pdfs DIR] [--json]

Per PDF: the title after whitespace/case normalisation; level-1 heading recall and precision
(a heading counts when its normalised text equals a true one); the reference count and whether
it is within 1 of the truth; how many of the three sample references are found as entries.
A sample is found when some entry matches it with difflib ratio >= 0.9 after both are reduced
to lowercase letters and digits (the ground truth removes line-break hyphens and expands
ligatures; the ratio absorbs a back-reference page number the truth leaves out).

Targets: title >= 14/15, mean heading recall and precision >= 0.9, reference count within 1
for >= 13/15, samples found >= 90 %.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_PDFS = Path(os.environ.get("WORKBENCH_SHARED", ROOT.parent / "shared")) / "pdfs"
SAMPLE_RATIO = 0.9


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _alnum(text: str) -> str:
    from workbench.pdf.refs import normalise_title

    return re.sub(r"[^0-9a-z]", "", normalise_title(text))


def score_paper(structure, truth: dict) -> dict:
    """The issue's measures for one extracted paper against its ground-truth entry."""
    want = [_norm(h) for h in truth["sections_level1"]]
    got = [_norm(h) for h in structure.headings]
    entries = [_alnum(r.raw) for r in structure.references]
    found = 0
    for sample in truth["reference_samples"]:
        target = _alnum(sample)
        best = max((difflib.SequenceMatcher(None, target, e, autojunk=False).ratio()
                    for e in entries), default=0.0)
        found += best >= SAMPLE_RATIO
    return {
        "file": truth["file"],
        "title_ok": _norm(structure.title) == _norm(truth["title"]),
        "recall": sum(h in got for h in want) / len(want),
        "precision": sum(h in want for h in got) / len(got) if got else 0.0,
        "refs": len(structure.references),
        "refs_truth": truth["references_count"],
        "refs_ok": abs(len(structure.references) - truth["references_count"]) <= 1,
        "samples_found": found,
        "samples": len(truth["reference_samples"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=Path, default=DEFAULT_PDFS)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)

    import yaml

    from workbench.pdf import document as pdf

    truth_file = args.pdfs / "ground_truth.yaml"
    if not truth_file.is_file():
        print(f"no ground truth at {truth_file}", file=sys.stderr)
        return 1
    papers = yaml.safe_load(truth_file.read_text(encoding="utf-8"))["papers"]
    pdf._pymupdf()  # import PyMuPDF before the clock starts
    rows = []
    for truth in papers:
        t0 = time.perf_counter()
        structure = pdf.extract(args.pdfs / truth["file"])
        row = score_paper(structure, truth)
        row["ms"] = round((time.perf_counter() - t0) * 1000)
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0

    n = len(rows)
    print(f"{'file':32s} {'title':>5s} {'recall':>6s} {'prec':>6s} {'refs':>9s} {'samples':>7s} {'wall ms':>7s}")
    for r in rows:
        print(f"{r['file']:32s} {'ok' if r['title_ok'] else 'MISS':>5s} {r['recall']:6.2f} "
              f"{r['precision']:6.2f} {r['refs']:>4d}/{r['refs_truth']:<3d}{'' if r['refs_ok'] else '!':1s} "
              f"{r['samples_found']:>5d}/{r['samples']} {r['ms']:7d}")
    titles = sum(r["title_ok"] for r in rows)
    recall = sum(r["recall"] for r in rows) / n
    precision = sum(r["precision"] for r in rows) / n
    refs = sum(r["refs_ok"] for r in rows)
    found = sum(r["samples_found"] for r in rows)
    samples = sum(r["samples"] for r in rows)
    checks = [
        (f"title exact match (normalised)     {titles}/{n}", titles >= n - 1),
        (f"level-1 heading recall (mean)      {recall:.3f}", recall >= 0.9),
        (f"level-1 heading precision (mean)   {precision:.3f}", precision >= 0.9),
        (f"reference count within 1 of truth  {refs}/{n}", refs >= n - 2),
        (f"sample references found as entries {found}/{samples} ({found / samples:.0%})",
         found >= 0.9 * samples),
    ]
    print()
    for text, ok in checks:
        print(f"{text:52s} {'ok' if ok else 'BELOW TARGET'}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
