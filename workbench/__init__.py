"""Paper-reading and reproduction workbench.

A plain library: importing it pulls in neither Streamlit nor torch (tests/test_layers.py
checks). Its folders are its architecture; each imports only the layers below it, and only
their public names (each package's `__all__`):

    base        errors, fileio, safeyaml, safetext, workspace
    1 catalog   papers.yaml: validate, read, write, search, BibTeX export, ids
    2 sources   arXiv and Semantic Scholar clients, offline-first cache, bundles
    3 pdf       open safely, extract in a limited worker, references, files
    4 notes     the method, notes, progress, reading material
    5 intake    adding papers (lookup, BibTeX import)
      graph     the citation graph and its queries
      runs      reproduction runs: overrides, folders, processes, queue, results
    6 sessions  session files and handouts
    7 app       Streamlit: main.py, common.py, views/ (one page each), serving
    8 cli       the `workbench` command
"""

__version__ = "0.1.0"
