"""Handout files: a `Handout` rendered in one format (md | html | pdf | slides) with its file
name, written to disk (with the figure files Markdown and slides refer to) or packed for one
download.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workbench.fileio import atomic_write_bytes
from workbench.sessions.handout import Handout, HandoutError
from workbench.sessions.html import to_html, to_pdf
from workbench.sessions.markdown import to_markdown, to_slides

FORMATS = ("md", "html", "pdf", "slides")
MIME = {"md": "text/markdown", "html": "text/html", "pdf": "application/pdf",
        "slides": "text/markdown", "zip": "application/zip"}


@dataclass(frozen=True)
class Export:
    """One exported handout: the main file and the figure files it refers to (Markdown, slides)."""

    name: str
    data: bytes = field(repr=False)
    mime: str
    assets: Mapping[str, bytes] = field(default_factory=dict, repr=False)

    def write(self, out: str | Path) -> list[Path]:
        """Write the file to `out` and the assets relative to its folder; the paths written."""
        out = Path(out)
        written = []
        target = out  # named in the message (the OSError may name a temp file)
        try:
            for rel, data in self.assets.items():
                target = out.parent / rel
                atomic_write_bytes(target, data)
                written.append(target)
            target = out
            atomic_write_bytes(out, self.data)
        except OSError as exc:
            raise HandoutError(f"cannot write {target}: {exc.strerror}") from None
        return [out, *written]

    def download(self) -> tuple[str, bytes, str]:
        """(file name, bytes, mime) for one download: a zip when there are figure files."""
        if not self.assets:
            return self.name, self.data, self.mime
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(self.name, self.data)
            for rel, data in self.assets.items():
                z.writestr(rel, data)
        return Path(self.name).stem + ".zip", buf.getvalue(), MIME["zip"]


def default_name(h: Handout, fmt: str) -> str:
    return {"md": f"{h.stem}-handout.md", "html": f"{h.stem}-handout.html",
            "pdf": f"{h.stem}-handout.pdf", "slides": f"{h.stem}-slides.md"}[fmt]


def export(h: Handout, fmt: str, name: str | None = None) -> Export:
    """The handout in `fmt` (md | html | pdf | slides) as an `Export` named `name`."""
    if fmt not in FORMATS:
        raise HandoutError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}")
    name = Path(name).name if name else default_name(h, fmt)
    if fmt in ("md", "slides"):
        asset_dir = f"{Path(name).stem}_figures"
        text = to_markdown(h, asset_dir) if fmt == "md" else to_slides(h, asset_dir)
        assets = {f"{asset_dir}/{f.file_name}": f.png for ph in h.papers for f in ph.figures}
        return Export(name, text.encode("utf-8"), MIME[fmt], assets)
    if fmt == "html":
        return Export(name, to_html(h).encode("utf-8"), MIME["html"])
    return Export(name, to_pdf(h), MIME["pdf"])


def downloads(h: Handout) -> dict[str, tuple[str, bytes, str]]:
    """Every format as (file name, bytes, mime) for a download button; Markdown and slides
    come as a zip holding the figure files."""
    return {fmt: export(h, fmt).download() for fmt in FORMATS}
