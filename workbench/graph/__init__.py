"""The citation graph: `build` (graph, neighbourhoods, reading order), `queries` (prior and
derivative works, similar papers, rank, paths), `sources` (edges from the workspace: catalog,
Semantic Scholar, PDFs), `draw` (views, figures, exports). Layer 5.
"""

from __future__ import annotations

from workbench.graph.build import (
    DIRECTIONS,
    GraphError,
    format_minutes,
    load_workspace_graph,
    reading_order,
)
from workbench.graph.draw import (
    COLOUR_MODES,
    EXPORT_FORMATS,
    EXPORT_MIME,
    export,
    make_view,
    plotly_figure,
    write_export,
)
from workbench.graph.queries import (
    citation_path,
    derivative_works,
    describe_path,
    graph_stats,
    prior_works,
    similar_papers,
)
from workbench.graph.sources import workspace_stamp

__all__ = [
    "COLOUR_MODES",
    "DIRECTIONS",
    "EXPORT_FORMATS",
    "EXPORT_MIME",
    "GraphError",
    "citation_path",
    "derivative_works",
    "describe_path",
    "export",
    "format_minutes",
    "graph_stats",
    "load_workspace_graph",
    "make_view",
    "plotly_figure",
    "prior_works",
    "reading_order",
    "similar_papers",
    "workspace_stamp",
    "write_export",
]
