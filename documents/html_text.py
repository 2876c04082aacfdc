"""HTML to text: the main content of a page, in reading order, with no script run.

Parsed by selectolax's Lexbor engine (MIT), which builds a tree and never executes
scripts or fetches anything; boilerplate (navigation, headers, footers, forms) is
dropped and the page's <main> or <article> is preferred when it has one.
"""

from __future__ import annotations

import re
from typing import Any

from selectolax.lexbor import LexborHTMLParser

# Elements that never hold a page's main content.
_DROP = (
    "script,style,noscript,template,iframe,object,embed,svg,canvas,nav,header,"
    "footer,aside,form,button,select,dialog,menu,[hidden],[aria-hidden=true]"
)
_BLOCK = frozenset(
    [
        "address",
        "article",
        "blockquote",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "ul",
        "body",
        "html",
        "caption",
    ]
)
_HEADINGS = {f"h{n}": "#" * n for n in range(1, 7)}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Decode HTML bytes by the declared charset, the meta tag, UTF-8, or cp1252."""
    candidates = [declared] if declared else []
    # Valid UTF-8 is almost never anything else; a stale meta tag often is.
    candidates.append("utf-8")
    match = _CHARSET.search(data[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii"))
    for encoding in candidates:
        try:
            return data.decode(encoding or "utf-8")
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def html_title(data: bytes) -> str:
    """The page's <title>, whitespace collapsed, or ''."""
    node = LexborHTMLParser(decode_html(data)).css_first("title")
    return " ".join(node.text().split())[:255] if node is not None else ""


def html_to_text(data: bytes) -> str:
    """The readable main text of an HTML page, headings marked like Markdown."""
    tree = LexborHTMLParser(decode_html(data))
    for node in tree.css(_DROP):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    if root is None:
        return ""
    parts: list[str] = []
    _walk(root, parts)
    text = "".join(parts)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _walk(node: Any, parts: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            parts.append(child.text_content.replace("\n", " "))
        elif tag == "br":
            parts.append("\n")
        elif tag in _HEADINGS:
            parts.append(f"\n\n{_HEADINGS[tag]} ")
            _walk(child, parts)
            parts.append("\n\n")
        elif tag == "li":
            parts.append("\n- ")
            _walk(child, parts)
        elif tag in ("td", "th"):
            _walk(child, parts)
            parts.append(" | ")
        elif tag == "pre":
            parts.append("\n\n" + (child.text(deep=True) or "") + "\n\n")
        elif tag in _BLOCK:
            parts.append("\n\n")
            _walk(child, parts)
            parts.append("\n\n")
        elif tag not in ("-comment", "head", "title", "meta", "link"):
            _walk(child, parts)
