"""The app's pages, one module each (see `workbench.app.PAGES`): thin, calling the library."""
