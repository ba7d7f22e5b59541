"""The citation graph: `build` (graph, neighbourhoods, reading order), `queries` (prior and
derivative works, similar papers, rank, paths, reading plans), `sources` (edges from the
workspace: catalog, Semantic Scholar, PDFs), `draw` (views, figures, exports), `harvest` (citations the catalog lacks, read from the PDFs).
Layer 5.
"""

from __future__ import annotations

from workbench.graph.build import (
    DIRECTIONS,
    NOT_READ_STATUSES,
    GraphError,
    format_minutes,
    load_workspace_graph,
    reading_order,
)
from workbench.graph.draw import (
    COLOUR_MODES,
    EXPORT_FORMATS,
    EXPORT_MIME,
    LAYOUTS,
    export,
    make_view,
    plotly_figure,
    short_title,
    view_rows,
    write_export,
)
from workbench.graph.harvest import FoundCitation, harvest
from workbench.graph.queries import (
    PLAN_SIZE,
    central_paper,
    citation_path,
    derivative_works,
    describe_path,
    graph_stats,
    prior_works,
    reading_plan,
    similar_papers,
)
from workbench.graph.sources import workspace_stamp

__all__ = [
    "COLOUR_MODES",
    "DIRECTIONS",
    "EXPORT_FORMATS",
    "EXPORT_MIME",
    "LAYOUTS",
    "NOT_READ_STATUSES",
    "PLAN_SIZE",
    "FoundCitation",
    "GraphError",
    "central_paper",
    "citation_path",
    "derivative_works",
    "describe_path",
    "export",
    "format_minutes",
    "graph_stats",
    "harvest",
    "load_workspace_graph",
    "make_view",
    "plotly_figure",
    "prior_works",
    "reading_order",
    "reading_plan",
    "short_title",
    "similar_papers",
    "view_rows",
    "workspace_stamp",
    "write_export",
]
