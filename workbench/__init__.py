"""Paper-reading and reproduction workbench.

A plain library: importing it pulls in neither Streamlit nor torch (a test checks).
"""

__version__ = "0.1.0"
