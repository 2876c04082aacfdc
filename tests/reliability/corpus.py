"""The hostile-input corpus: files built to exhaust a parser, generated, never stored.

`python -m tests.reliability.corpus DIR [--full]` writes every case to DIR. Each
case comes in two sizes: `full` is the size the issue 16 campaign used (a DOCX
inflating to 1.1 GB, 200,000 nested divs, ...), the default is the smallest file
that still crosses the same bound, for the normal test suite. Gigabyte streams
are built from one compressed block repeated after a full flush (which resets
the compressor), so the generator itself stays small and fast.
"""

from __future__ import annotations

import argparse
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MB = 1 << 20


@dataclass(frozen=True)
class Case:
    """One hostile file and what Cairn must make of it."""

    name: str
    filename: str
    build: Callable[[bool], bytes]
    # "failed" with `reason` (a regex) in the document's error, or "ready".
    outcome: str
    reason: str = ""
    # Settings the small variant runs with, so a small file crosses a bound.
    small_settings: dict[str, int] = field(default_factory=dict)


# Deflate streams of any size --------------------------------------------------


def _repeated(block: bytes, count: int) -> bytes:
    """A zlib stream (PDF FlateDecode) of `block` repeated count times."""
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    finish = compressor.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(count):
        adler = zlib.adler32(block, adler)
    # The trailer checks the whole stream, not the two blocks compressed here.
    return first + again * (count - 1) + finish[:-4] + struct.pack(">I", adler)


def _deflated(data: bytes) -> tuple[bytes, int]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data)


# Zip (DOCX) -------------------------------------------------------------------


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of (name, raw deflate data, crc32, inflated size) members."""
    out = bytearray()
    central = bytearray()
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size,
            len(encoded), 0,
        ) + encoded + data  # fmt: skip
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
            len(data), size, len(encoded), 0, 0, 0, 0, 0, offset,
        ) + encoded  # fmt: skip
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
        len(out), 0,
    )  # fmt: skip
    return bytes(out + central + end)


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    b'org/officeDocument/2006/relationships/officeDocument" '
    b'Target="word/document.xml"/></Relationships>'
)


def _docx(document_xml: list[tuple[bytes, int]]) -> bytes:
    """A minimal DOCX whose document.xml is the pieces given, each repeated."""
    fixed = [("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS)]
    return _office(fixed, "word/document.xml", document_xml)


def _office(
    fixed: list[tuple[str, bytes]], name: str, pieces: list[tuple[bytes, int]]
) -> bytes:
    """A zip of the fixed parts, then part `name` of the pieces, each repeated."""
    members = []
    for fixed_name, data in fixed:
        members.append((fixed_name, *_deflated(data), len(data)))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = bytearray()
    crc = 0
    size = 0
    for piece, count in pieces:
        if count > 64:
            # Long runs compress once and repeat (see _repeated).
            stream += compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
            again = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
            stream += again * (count - 1)
        else:
            stream += compressor.compress(piece * count)
        for _ in range(count):
            crc = zlib.crc32(piece, crc)
        size += len(piece) * count
    stream += compressor.flush()
    members.append((name, bytes(stream), crc, size))
    return _zip(members)


# XLSX -------------------------------------------------------------------------

_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XLSX_FIXED = [
    (
        "[Content_Types].xml",
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-'
        b'package.relationships+xml"/><Default Extension="xml" '
        b'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        b'sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
        b'worksheet+xml"/></Types>',
    ),
    ("_rels/.rels", _RELS.replace(b"word/document.xml", b"xl/workbook.xml")),
    (
        "xl/workbook.xml",
        f'<?xml version="1.0"?><workbook xmlns="{_S}" xmlns:r="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
        'name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>'.encode(),
    ),
    (
        "xl/_rels/workbook.xml.rels",
        b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.'
        b'org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
        b"schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
        b'" Target="worksheets/sheet1.xml"/></Relationships>',
    ),
]


def _xlsx(sheet_xml: list[tuple[bytes, int]]) -> bytes:
    """A one-sheet workbook whose sheet1.xml is the pieces given, each repeated."""
    return _office(_XLSX_FIXED, "xl/worksheets/sheet1.xml", sheet_xml)


def xlsx_bomb(full: bool) -> bytes:
    """sheet1.xml is one cell of 1.1 GB (full) or 40 MB of 'a'."""
    megabytes = 1100 if full else 40
    head = f'<?xml version="1.0"?><worksheet xmlns="{_S}"><sheetData><row r="1">'
    head += '<c r="A1" t="inlineStr"><is><t>'
    tail = "</t></is></c></row></sheetData></worksheet>"
    return _xlsx([(head.encode(), 1), (b"a" * MB, megabytes), (tail.encode(), 1)])


def xlsx_far_cells(full: bool) -> bytes:
    """Two cells, A1 and XFD1048576 (full) or XFD4000: a reader would allocate
    every cell between them (17 billion, or 65 million)."""
    last = 1_048_576 if full else 4_000
    xml = (
        f'<?xml version="1.0"?><worksheet xmlns="{_S}"><sheetData>'
        '<row r="1"><c r="A1"><v>1</v></c></row>'
        f'<row r="{last}"><c r="XFD{last}"><v>2</v></c></row>'
        "</sheetData></worksheet>"
    ).encode()
    return _xlsx([(xml, 1)])


def docx_bomb(full: bool) -> bytes:
    """document.xml is one text node of 1.1 GB (full) or 40 MB of 'a'."""
    megabytes = 1100 if full else 40
    head = f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>'
    tail = "</w:t></w:r></w:p></w:body></w:document>"
    return _docx([(head.encode(), 1), (b"a" * MB, megabytes), (tail.encode(), 1)])


def docx_deep(full: bool) -> bytes:
    """document.xml nests 100,000 (full) or 5,000 elements."""
    depth = 100_000 if full else 5_000
    head = f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body>'
    return _docx(
        [
            (head.encode(), 1),
            (b"<w:sdt><w:sdtContent>", depth),
            (b"<w:p><w:r><w:t>deep</w:t></w:r></w:p>", 1),
            (b"</w:sdtContent></w:sdt>", depth),
            (b"</w:body></w:document>", 1),
        ]
    )


def docx_entities(full: bool) -> bytes:
    """A 'billion laughs' DTD in document.xml."""
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY l0 "ha">{levels}]>'
        f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p>'
        "</w:body></w:document>"
    ).encode()
    return _docx([(xml, 1)])


# PDF --------------------------------------------------------------------------


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given objects (1 is the catalog), with a correct xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _pages_pdf(
    contents: list[bytes], *, page_count: int = 0, media_box: bytes = b"0 0 612 792"
) -> bytes:
    """Pages drawing the given content objects (raw object bodies), Helvetica.

    With page_count, that many pages all draw the first content object.
    """
    count = page_count or len(contents)
    first_content = 4 + count
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i in range(count):
        content = first_content + (0 if page_count else i)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (media_box, content)
        )
    return _pdf(objects + contents)


_TEXT = b"BT /F1 24 Tf 72 700 Td (Quarterly report: revenue grew.) Tj ET\n"


def pdf_content_bomb(full: bool) -> bytes:
    """A page whose content stream inflates to 1.1 GB (full) or 48 MB."""
    megabytes = 1100 if full else 48
    data = _repeated(b"q Q " * (MB // 4), megabytes)
    bomb = _stream(data, b"/Filter /FlateDecode")
    return _pages_pdf([_stream(_TEXT), bomb, _stream(_TEXT)])


def pdf_many_pages(full: bool) -> bytes:
    """100,000 (full) or 2,500 pages, all drawing one small content stream."""
    return _pages_pdf([_stream(_TEXT)], page_count=100_000 if full else 2_500)


def pdf_text_flood(full: bool) -> bytes:
    """One page carrying 3,000,000 (full) or 300,000 characters of text."""
    count = 3_000_000 if full else 300_000
    # PDFium keeps at most 32,767 characters of one string: many short ones.
    line = b"(" + b"text filler " * 80 + b") Tj\n"
    ops = b"BT /F1 1 Tf 0 10 Td\n" + line * (count // 960) + b"ET"
    compressed = zlib.compress(ops, 9)
    return _pages_pdf([_stream(compressed, b"/Filter /FlateDecode")])


def pdf_huge_media_box(full: bool) -> bytes:
    """A page of 10000 x 10000 pt (rendering it at 1.5x is 225 megapixels)."""
    return _pages_pdf([_stream(_TEXT)], media_box=b"0 0 10000 10000")


# Text formats -----------------------------------------------------------------


def html_nested(full: bool) -> bytes:
    """200,000 (full) or 20,000 nested divs around a line of text."""
    depth = 200_000 if full else 20_000
    return (
        b"<!DOCTYPE html><html><body><main><h1>Deep</h1>"
        + b"<div>" * depth
        + b"<p>The bottom of the page.</p>"
        + b"</div>" * depth
        + b"</main></body></html>"
    )


def markdown_headings(full: bool) -> bytes:
    """100,000 (full) or 12,000 headings, one short line under each.

    The small file crosses the cap the test lowers to 10,000 (SMALL_SETTINGS).
    """
    count = 100_000 if full else 12_000
    return "".join(f"# Heading {i}\n\nLine {i}.\n\n" for i in range(count)).encode()


_PROSE = "Café crème: déjà vu, naïve façade. Über straße. 東京の会議は十時です。\n"


def utf16_text(full: bool) -> bytes:
    """Text in UTF-16 with its byte-order mark (Windows Notepad's "Unicode")."""
    return (_PROSE * 50).encode("utf-16")


def utf32_text(full: bool) -> bytes:
    """Text in UTF-32 big-endian with its byte-order mark."""
    return b"\x00\x00\xfe\xff" + (_PROSE * 50).encode("utf-32-be")


CASES = [
    Case("docx-zip-bomb", "bomb.docx", docx_bomb, "failed", r"inflates to|MB of XML"),
    Case("docx-deep-xml", "deep.docx", docx_deep, "failed", r"nests elements"),
    Case("docx-entities", "laughs.docx", docx_entities, "failed", r"DTD"),
    Case("xlsx-zip-bomb", "bomb.xlsx", xlsx_bomb, "failed", r"inflates to|MB of XML"),
    Case("xlsx-far-cells", "far.xlsx", xlsx_far_cells, "failed", r"XLSX_MAX_CELLS"),
    Case(
        "pdf-content-bomb",
        "bomb.pdf",
        pdf_content_bomb,
        "failed",
        r"stream that inflates to more than \d+ MB",
    ),
    Case(
        "pdf-many-pages", "pages.pdf", pdf_many_pages, "failed", r"at most [\d,]+ pages"
    ),
    # At full size PDFium needs more than the child's memory to load the page,
    # before its characters can be counted: the memory limit is what stops it.
    Case(
        "pdf-text-flood",
        "flood.pdf",
        pdf_text_flood,
        "failed",
        r"holds [\d,]+ characters|MB of memory",
    ),
    Case("pdf-huge-media-box", "poster.pdf", pdf_huge_media_box, "ready"),
    Case("html-nested-divs", "deep.html", html_nested, "ready"),
    Case(
        "markdown-headings",
        "headings.md",
        markdown_headings,
        "failed",
        r"passages; Cairn indexes at most",
        small_settings={"MAX_CHUNKS_PER_DOCUMENT": 10_000},
    ),
    Case("utf16-bom-text", "notes.txt", utf16_text, "ready"),
    Case("utf32-bom-text", "notes32.txt", utf32_text, "ready"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--full", action="store_true", help="issue 16's sizes")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        data = case.build(args.full)
        (args.directory / f"{case.name}-{case.filename}").write_bytes(data)
        print(f"{case.name:22} {len(data):>12,} bytes  expect {case.outcome}")


if __name__ == "__main__":
    main()
