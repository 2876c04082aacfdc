"""A document's title as search reads it: file-name words, PDF title, first heading.

A chunk on page 61 of `BESTBUY_2023_10K.pdf` never names the company or the
year; its document's title does, once `BESTBUY_2023_10K` reads as
"BESTBUY 2023 10K". The result is indexed and embedded with every chunk
(Chunk.search_title), never shown and never part of the cited text.
"""

from __future__ import annotations

import re

MAX_LENGTH = 400
# Extensions stripped from a file name (one, the last).
_EXTENSIONS = re.compile(
    r"\.(pdf|docx?|txt|text|md|markdown|csv|tsv|html?|rtf|odt|xlsx?|pptx?)$",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s_.\-–—+,;()\[\]{}]+")
_RUNS = re.compile(r"[^\W\d_]+|\d+")
_JUNK_TITLE = re.compile(r"^(microsoft\s|untitled|document\d*$|slide\s*\d)", re.I)


def split_name(name: str) -> str:
    """Words of a file name or identifier.

    'BESTBUY_2023_10K' -> 'BESTBUY 2023 10K', 'q3-board_report.final.docx'
    -> 'q3 board report final', 'boardReportQ3' -> 'board Report Q3'.
    """
    stem = _EXTENSIONS.sub("", name.strip())
    words: list[str] = []
    for part in _SEPARATORS.split(stem):
        runs = [
            piece
            for run in _RUNS.findall(part)
            for piece in (_camel(run) if run.isalpha() else [run])
        ]
        index = 0
        while index < len(runs):
            run = runs[index]
            after = runs[index + 1] if index + 1 < len(runs) else ""
            if len(run) == 1 and run.isalpha() and after.isdigit():
                words.append(run + after)  # "Q4", "v2"
                index += 2
                continue
            # "10K", "3M": one name; "2023Q4" goes on to "2023 Q4".
            then = runs[index + 2] if index + 2 < len(runs) else ""
            form = run.isdigit() and len(after) == 1 and after.isalpha()
            if form and not then.isdigit():
                words.append(run + after)
                index += 2
                continue
            words.append(run)
            index += 1
    return " ".join(words)


def _camel(run: str) -> list[str]:
    """'boardReport' -> board, Report; 'XMLParser' -> XML, Parser; 'BESTBUY' whole."""
    words: list[str] = []
    start = 0
    for index in range(1, len(run)):
        previous, current = run[index - 1], run[index]
        following = run[index + 1] if index + 1 < len(run) else ""
        lower_to_upper = previous.islower() and current.isupper()
        acronym_end = previous.isupper() and current.isupper() and following.islower()
        if lower_to_upper or acronym_end:
            words.append(run[start:index])
            start = index
    words.append(run[start:])
    return words


def useful_metadata_title(value: str | None) -> str:
    """A PDF's metadata title when it says something (not a file name or id)."""
    text = " ".join((value or "").split())
    if not text or _JUNK_TITLE.match(text) or _EXTENSIONS.search(text):
        return ""
    if len(re.findall(r"[^\W\d_]{2,}", text)) < 2:
        return ""  # an accession number, "10-K", a single code
    return text[:MAX_LENGTH]


def first_heading(text: str) -> str:
    """The first line of text that reads as a heading (Markdown marks dropped)."""
    for line in text[:4000].splitlines():
        line = line.strip().lstrip("#").strip()
        if 3 <= len(line) <= 150 and re.search(r"[^\W\d_]{3}", line):
            return line
    return ""


def search_title(
    *, title: str, metadata_title: str = "", heading: str = "", text: str = ""
) -> str:
    """The normalised title indexed with a document's chunks.

    The file-name words, then the PDF's metadata title and its first page's
    heading when they add words; without a heading, the text's first line.
    """
    parts: list[str] = []
    seen: set[str] = set()
    for candidate in (
        split_name(title),
        useful_metadata_title(metadata_title),
        " ".join(heading.split()) or first_heading(text),
    ):
        found = {word.lower() for word in re.findall(r"\w+", candidate)}
        if candidate and not found <= seen:
            parts.append(candidate)
            seen |= found
    return " · ".join(parts)[:MAX_LENGTH]


def query_title_words(query: str) -> list[str]:
    """The words of a question as a title would spell them.

    Each word, its split form when it has one ('FY2022' -> 'FY', '2022') and
    each pair of neighbours joined, since file names run names together
    ('Best Buy' -> 'BestBuy' for `BESTBUY_2023_10K`).
    """
    found = re.findall(r"[^\W_]+", re.sub(r"['’]s\b", "", query))
    out: list[str] = []
    for index, word in enumerate(found):
        out.append(word)
        parts = split_name(word).split()
        if len(parts) > 1:
            out.extend(parts)
        if index + 1 < len(found) and word.isalpha() and found[index + 1].isalpha():
            out.append(word + found[index + 1])
    return list(dict.fromkeys(out))
