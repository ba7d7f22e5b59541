"""Generated .bib files for the BibTeX importer's hostile-input and scale tests (none shipped).

`library_bib(n)` is a Zotero / Better BibTeX export of `n` distinct papers with the fields such
an export really has (`file`, `urldate`, `langid`, braced capitals, LaTeX accents, `month = jun`,
a long abstract): about 950 bytes an entry, like a real 3.5 MB library of 3,725 entries.
`semicolon_entry` is the entry that made bibtexparser's LaTeX decoder raise `TypeError` (a `\\;`
thin space), `BAD_ENTRIES` entries that cannot be read at all, `macro_bomb` the `@string` doubling
that grows to terabytes when expanded and `macro_fanout` one big macro used many times;
`catalog_yaml(n)` is a papers.yaml of `n` papers to import into.
"""

from __future__ import annotations

import random

_FIRST = ["Kaiming", "Ashish", "Yann", "Jörg", "Łukasz", "Laurens", "Geoffrey", "Fei-Fei",
          "Ilya", "Diederik", "Noam", "Anna", "Sébastien", "Jürgen", "Alexey", "Ross"]
_LAST = ["He", "Vaswani", "LeCun", "M{\\\"u}ller", "Kaiser", "van der Maaten", "Hinton", "Li",
         "Sutskever", "Kingma", "Shazeer", "Ko{\\'n}", "Bubeck", "Schmidhuber", "Dosovitskiy",
         "Girshick"]
_WORDS = ("residual attention network image recognition transformer scaling learning deep "
          "convolutional generative adversarial contrastive visual language model detection "
          "segmentation diffusion graph sparse efficient robust neural optimization "
          "representation self-supervised benchmark").split()
_VENUES = [("inproceedings", "booktitle", "Proceedings of the {{IEEE Conference}} on "
            "{{Computer Vision}} and {{Pattern Recognition}} ({{CVPR}})"),
           ("inproceedings", "booktitle", "Advances in {{Neural Information Processing "
            "Systems}}"),
           ("article", "journal", "Journal of Machine Learning Research"),
           ("article", "journal", "{arXiv} preprint"),
           ("misc", "howpublished", "{arXiv}")]
_ABSTRACT = ("We study {{deep networks}} and show that a simple change makes them train faster "
             "\\& generalise better on $100\\%$ of the benchmarks we tried. The result holds "
             "across three model sizes and costs nothing at inference time; we release code "
             "and pretrained weights. Ablations show where the gain comes from.")


def library_entry(i: int, rng: random.Random) -> str:
    """One Better BibTeX entry; `i` makes its title, DOI and arXiv id unique."""
    kind, venue_key, venue = _VENUES[i % len(_VENUES)]
    authors = " and ".join(f"{rng.choice(_LAST)}, {rng.choice(_FIRST)}"
                           for _ in range(rng.randint(1, 6)))
    words = rng.sample(_WORDS, 5)
    title = f"{words[0].capitalize()} {{{{{words[1].upper()}}}}} for {' '.join(words[2:])} {i}"
    year = 1995 + i % 30
    key = f"{_LAST[i % len(_LAST)].split()[-1].strip('{}')[:6]}{words[0].capitalize()}{year}_{i}"
    key = "".join(c for c in key if c.isalnum() or c == "_")
    return (f"@{kind}{{{key},\n"
            f"  title = {{{title}}},\n"
            f"  author = {{{authors}}},\n"
            f"  year = {{{year}}},\n"
            f"  month = jun,\n"
            f"  {venue_key} = {{{venue}}},\n"
            f"  volume = {{{i % 40}}},\n"
            f"  pages = {{{i % 900}--{i % 900 + 12}}},\n"
            f"  publisher = {{{{IEEE}}}},\n"
            f"  doi = {{10.5555/wb.{i}}},\n"
            f"  url = {{https://example.org/papers/{i}}},\n"
            f"  urldate = {{2024-03-{1 + i % 28:02d}}},\n"
            f"  abstract = {{{_ABSTRACT}}},\n"
            f"  archiveprefix = {{arXiv}},\n"
            f"  eprint = {{{15 + i // 100000:02d}{1 + i % 12:02d}.{i % 100000:05d}}},\n"
            f"  primaryclass = {{cs}},\n"
            f"  langid = {{english}},\n"
            f"  keywords = {{Computer Science - Machine Learning, {words[3]}}},\n"
            f"  file = {{/home/ada/Zotero/storage/{i:08X}/{key}.pdf}}\n"
            f"}}\n")


def library_bib(n: int, seed: int = 0) -> str:
    """A Better BibTeX export of `n` distinct papers (about 950 bytes each)."""
    rng = random.Random(seed)
    return "% Exported by Better BibTeX for Zotero\n\n" + "\n".join(
        library_entry(i, rng) for i in range(n))


def semicolon_entry(key: str = "thinspace2021") -> str:
    """An entry whose title holds `\\;` (a LaTeX thin space, common in math titles)."""
    return (f"@article{{{key},\n  title = {{Bounds for $n\\;\\log n$ Sorting}},\n"
            f"  author = {{Roe, Richard}},\n  year = {{2021}},\n  journal = {{J. Algo.}}\n}}\n")


# key -> an entry that cannot be read, and the reason the importer gives
BAD_ENTRIES = {
    "unclosed": ("@article{unclosed,\n  title = {Never {closed},\n  author = {Roe, Richard},\n"
                 "  year = {2021}\n}\n", "its '{' is not closed; check its braces and commas"),
    "nocomma": ("@article{nocomma,\n  title = {Missing comma}\n  author = {Roe, Richard},\n"
                "  year = 2021\n}\n", "expected ',' or '}' but found 'a'; check its braces and "
                "commas"),
    "undefined": ("@article{undefined,\n  title = {Uses a macro},\n  author = {Roe, Richard},\n"
                  "  year = 2021,\n  journal = jmlr\n}\n",
                  "it uses @string 'jmlr', which the file does not define"),
    "nofield": ("@misc{nofield,\n  = {x}\n}\n",
                "a field name and '=' were expected at '= {x}'; check its braces and commas"),
}


def macro_bomb(levels: int = 40) -> str:
    """`@string{s1 = s0 # s0}` ... `levels` times, then an entry that uses the last one:
    expanded in full it is 2**levels copies of 'ha' (2 TB at 40 levels)."""
    lines = ['@string{s0 = "ha"}']
    lines += [f"@string{{s{i} = s{i - 1} # s{i - 1}}}" for i in range(1, levels + 1)]
    lines.append(f"@misc{{boom, title = s{levels}, author = {{Doe, Jane}}, year = 2020}}")
    return "\n".join(lines) + "\n"


def macro_fanout(uses: int = 120) -> str:
    """One 90,000-character @string used `uses` times in one entry: 10.8 MB from a 92 KB file
    at 120 uses (and gigabytes from a 10 MB one)."""
    fields = ",\n".join(f"  note{i} = big" for i in range(uses))
    return (f"@string{{big = {{{'ha' * 45_000}}}}}\n"
            "@misc{fan, title = {Fan out}, author = {Doe, Jane}, year = 2020,\n"
            f"{fields}\n}}\n")


def catalog_yaml(n: int) -> str:
    """papers.yaml with two topics and `n` papers (none of them in `library_bib`)."""
    out = ["topics:\n  - id: cnns\n    title: Convolutional networks\n"
           "  - id: transformers\n    title: Attention & transformers\npapers:\n"]
    for i in range(n):
        out.append(f"  - id: paper-{i}\n    title: Catalogued paper number {i}\n"
                   f"    authors: [Ada Lovelace, Alan Turing]\n    year: {1990 + i % 35}\n"
                   f"    topic: {'cnns' if i % 2 else 'transformers'}\n"
                   f"    doi: 10.4444/cat.{i}\n")
    return "".join(out)
