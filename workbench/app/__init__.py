"""Streamlit pages. Thin: every page calls the library; nothing here parses or trains."""
