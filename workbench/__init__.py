"""Paper-reading and reproduction workbench.

A plain library: importing it pulls in neither Streamlit nor torch (a test checks). One module
per job; the app (`workbench/app/`, Streamlit pages) and the CLI (`cli.py`) only call these.

Where things are, by feature:

- Workspace and files: `workspace` (paths, slugs), `fileio` (crash-safe writes), `errors`,
  `safeyaml`.
- Catalog: `catalog` (load and validate papers.yaml), `catalog_model` (Paper, Topic, Catalog),
  `catalog_yaml` (guarded ruamel round-trip), `catalog_write` (add entries), `library`
  (filters, search), `add` (a paper from arXiv / Semantic Scholar), `sources/` (the two clients
  and their cache).
- Reading: `method` (the three passes and five Cs as data), `notes` (note model, passes),
  `note_file` (the file format, saving, export), `note_editor` (an open note in the app),
  `progress` (who is where), `reading_material` (what each pass needs from the PDF).
- PDFs: `pdf` (open safely, `extract`, cache, a paper's PDF), `pdf_files` (download, upload),
  `pdf_extract`, `pdf_structure`, `pdf_layout`, `pdf_front_matter`, `pdf_figures`, `pdf_refs`.
- Citation graph: `graph` (build, neighbourhoods, reading order), `graph_queries` (prior and
  derivative works, similar papers, rank, paths), `graph_sources` (edges from the workspace),
  `graph_draw` (views, figures, exports).
- Reproduction runs: `reproduction_info` (what the reproductions offer), `overrides`
  (`--set` checked before launch), `runs` (run folders and states), `run_queue` (submit, start,
  cancel, resume), `run_processes`, `run_results` (history, verdicts, curves).
- Sessions: `sessions` (session files), `handout` (gathering), `handout_figures`,
  `handout_markdown`, `handout_html`, `handout_export`, `bibtex` (export, citation keys),
  `bibtex_import`.
- Command line: `cli` (the `workbench` command, its parser and small subcommands), `cli_graph`
  (`workbench graph`), `cli_repro` (`workbench repro`), `cli_args` (workspace and reader from
  the arguments).
"""

__version__ = "0.1.0"
