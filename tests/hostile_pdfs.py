"""Hostile PDFs, built at test time (each file is a few hundred bytes to a few hundred KB).

- `lying_page_count`: a page tree whose /Count claims 1,000,000 pages for its one page (661
  bytes in the report; 420 here). MuPDF raises RuntimeError on `page_count`.
- `huge_page`: one 14,400 x 14,400 pt page (200 inches, the largest PDF allows) with a captioned
  figure; at 110 dpi it would be a 22,000-pixel square, which MuPDF refuses to allocate.
- `flate_bomb`: one page whose content stream inflates from `kb` KB to `mb` MB of drawing
  commands ("0 0 m 100 100 l S": a line, stroked). 20 MB of them took 3.6 s to extract and
  376 s to render in one process on the shared 2-core machine.
- `text_bomb`: the same with text-showing commands: 20 MB took 17.6 s and 1.3 GB of memory.

The bombs repeat one compressed block (a full flush resets the compressor, so each block
decodes alone), so a 100 MB stream costs milliseconds to build.
"""

from __future__ import annotations

import zlib
from pathlib import Path


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF file of `objects` (numbered from 1; 1 is the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1,
                                                                             xref)
    return bytes(out)


def _one_page(content: bytes, filters: bytes = b"") -> bytes:
    return _pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(content), filters, content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def lying_page_count(path: Path, count: int = 1_000_000) -> Path:
    data = _one_page(b"BT /F1 12 Tf 72 700 Td (One page only) Tj ET")
    path.write_bytes(data.replace(b"/Count 1 ", b"/Count %d " % count))
    return path


def huge_page(path: Path, side: float = 14400) -> Path:
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=side, height=side)
    page.insert_text((720, 720), "A Poster Printed on One Page", fontsize=200)
    page.draw_rect(pymupdf.Rect(720, 1440, side - 720, side - 2880), color=(0, 0, 0),
                   fill=(0.8, 0.8, 1))
    page.insert_text((720, side - 2400), "Figure 1: The whole poster is this one figure.",
                     fontsize=200)
    doc.save(path)
    doc.close()
    return path


def _deflate_repeated(chunk: bytes, times: int) -> bytes:
    """The zlib stream of `chunk * times`, from one compressed block of `chunk` repeated."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; header and checksum added here
    block = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    end = co.flush()
    checksum = 1
    for _ in range(times):
        checksum = zlib.adler32(chunk, checksum)
    return b"\x78\xda" + block * times + end + checksum.to_bytes(4, "big")


def _bomb(path: Path, command: bytes, mb: int) -> Path:
    chunk = command * (65536 // len(command))
    stream = _deflate_repeated(chunk, mb * 2**20 // len(chunk))
    path.write_bytes(_one_page(stream, b"/Filter /FlateDecode"))
    return path


def flate_bomb(path: Path, mb: int = 100) -> Path:
    return _bomb(path, b"0 0 m 100 100 l S\n", mb)


def text_bomb(path: Path, mb: int = 100) -> Path:
    return _bomb(path, b"BT /F1 9 Tf 20 20 Td (" + b"Hello world " * 20 + b") Tj ET\n", mb)
