"""The offline answerer: the passages that answer the question, or "not found".

Used without ANTHROPIC_API_KEY; it streams in the same parts as Claude's answer
and cites exact character ranges, so the pages work the same in both modes.

A candidate is a sentence of a retrieved chunk, or a line of a table (a CSV
row, a line of figures in a PDF), which is quoted with its header. Each is
scored by how much of the question's weight (its terms' IDF in the workspace)
it covers, counting the document's title and a table's header as context.
When the best candidate covers too little of the question, the answer says
the documents do not hold one, instead of quoting the nearest words.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from documents.ingestion import sheets
from documents.ingestion.extraction import TABULAR, XLSX
from documents.lexical import terms
from documents.models import Document
from search.citations import NOT_FOUND, CitationData, Part, Result, Segment
from search.models import Answer
from search.retrieval import Hit

MAX_OFFLINE_SENTENCES = 3
# EVIDENCE_THRESHOLD: the share of the question's weight the best passage must
# cover to be quoted. MAX_UNSUPPORTED: the share no retrieved passage mentions
# at all that makes the answer "not found", unless the best passage covers at
# least STRONG_EVIDENCE of the question (a claim's one rare word the abstract
# spells otherwise). RUNNER_UP: how close another passage must come to be
# quoted too. Chosen with `manage.py eval_answers --split dev` (the filings
# sample, its unanswerable questions and the even SciFact claims); the odd
# SciFact claims (`--split held-out`) are the check.
EVIDENCE_THRESHOLD = 0.18
MAX_UNSUPPORTED = 0.45
STRONG_EVIDENCE = 0.4
RUNNER_UP = 0.75
# A title or a table header counts, but less than the passage's own words.
CONTEXT_WEIGHT = 0.6
MAX_SENTENCE_CHARS = 400
HEADER_LOOKBACK_LINES = 30

# A sentence ends at . ! or ? followed by space, or at a blank line; a single
# newline is only a wrapped line (PDF text is full of them).
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n[ \t]*\n\s*")
# Questions after a quantity are answered by passages that hold a number.
_QUANTITY = re.compile(
    r"\b(how (many|much|long|often)|what (percent|share|amount|number|was|is)|"
    r"when|which year|total)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_FIGURE = re.compile(r"(?<![\w.])[-(]?\$?\d[\d,]*(?:\.\d+)?%?\)?")
_PERIOD = re.compile(
    r"\b(?:19|20)\d\d\b|\bFY ?\d{2,4}\b|\bQ[1-4]\b|\bfiscal\b|\bquarter\b"
    r"|\b(?:three|six|nine|twelve) months\b|\bmillions?\b|\$ ?millions?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_HOW = re.compile(r"\bhow (long|much|many|often|far|old|big)\b", re.IGNORECASE)
_FISCAL_YEAR = re.compile(r"\bFY ?'?(\d{2,4})\b", re.IGNORECASE)
# How a question is asked, not what it asks about ("round to one decimal place").
_PHRASING = frozenset(
    terms(
        "answer answers calculate calculated calculation compute explain round "
        "decimal decimals place places please state utilize utilizing using use "
        "shown show tell give given provide like get much many whether drove ask asked"
    )
)
_SPLIT_TITLE = re.compile(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])|(?<=\d)(?=[A-Za-z])")


@dataclass
class Candidate:
    """A passage that may answer: where it is, what it says, how well it fits."""

    hit: Hit
    start: int
    end: int
    row: bool = False
    header: tuple[int, int] | None = None
    score: float = 0.0
    coverage: float = 0.0
    matched: frozenset[str] = frozenset()


def offline_parts(
    question: str,
    hits: list[Hit],
    result: Result,
    *,
    idf: Mapping[str, float] | None = None,
    previous: str = "",
) -> Iterator[Part]:
    """The offline answer, streamed in the same parts as Claude's."""
    answer = offline_answer(question, hits, idf=idf, previous=previous)
    result.model = answer.model
    for segment in answer.segments:
        yield ("segment", None)
        # Word by word, so the page streams offline as it does with Claude.
        for piece in re.findall(r"\S+\s*", segment.text):
            yield ("text", piece)
        for citation in segment.citations:
            yield ("citation", citation)


def offline_answer(
    question: str,
    hits: list[Hit],
    *,
    idf: Mapping[str, float] | None = None,
    previous: str = "",
) -> Result:
    """Quote the passages that cover the question, or say that none does."""
    weights = _question_weights(question, previous, idf)
    not_found = Result(mode=Answer.Mode.OFFLINE, model="", segments=[])
    not_found.segments.append(Segment(NOT_FOUND))
    if not weights or not hits:
        return not_found
    documents = {
        str(d.id): d
        for d in Document.objects.filter(id__in={h.document_id for h in hits})
    }
    unsupported = unsupported_share(weights, hits, documents)
    wants_number = bool(_QUANTITY.search(question))
    total = sum(weights.values())
    scored = []
    for candidate in _candidates(hits, documents):
        document = documents[candidate.hit.document_id]
        _score(candidate, document, weights, total, wants_number)
        if candidate.score > 0:
            scored.append(candidate)
    scored.sort(key=lambda c: c.score, reverse=True)
    if not scored or scored[0].coverage < EVIDENCE_THRESHOLD:
        return not_found
    if unsupported >= MAX_UNSUPPORTED and scored[0].coverage < STRONG_EVIDENCE:
        return not_found
    top = scored[0]
    best = _distinct(
        [
            c
            for c in scored
            if c.score >= RUNNER_UP * top.score
            and c.coverage >= max(EVIDENCE_THRESHOLD, RUNNER_UP * top.coverage)
            # Never one that drops what the best matched (the company asked about).
            and c.matched >= top.matched
        ],
        documents,
    )[:MAX_OFFLINE_SENTENCES]
    segments = [_segment(c, documents[c.hit.document_id], wants_number) for c in best]
    return Result(
        mode=Answer.Mode.OFFLINE, model="offline-extractive", segments=segments
    )


# The question ----------------------------------------------------------------


def is_follow_up(question: str) -> bool:
    """A question that leans on the one before ("And what was net income?")."""
    lowered = question.strip().lower()
    if re.match(r"(and|also|what about|how about|same for|then)\b", lowered):
        return True
    pronouns = {"it", "its", "they", "their", "them", "that", "this", "those"}
    return bool(pronouns & set(re.findall(r"[a-z']+", lowered))) or (
        len(terms(question)) <= 2
    )


def spelled_out(question: str) -> str:
    """The question as documents word it: "FY2023" as "fiscal 2023", no "how long"."""
    return _HOW.sub(" ", _FISCAL_YEAR.sub(r"fiscal \1", question))


def question_terms(question: str) -> list[str]:
    """The question's content terms, spelled out, without the phrasing words."""
    return [t for t in terms(spelled_out(question)) if t not in _PHRASING]


def _question_weights(
    question: str, previous: str, idf: Mapping[str, float] | None
) -> dict[str, float]:
    """Each question term's weight: its IDF; a follow-up's earlier terms count less."""
    own = dict.fromkeys(question_terms(question), 1.0)
    if previous and is_follow_up(question):
        for term in question_terms(previous):
            own.setdefault(term, 0.5)
    if not idf:
        return own
    # A term the workspace's IDF does not know weighs like the rarest one.
    ceiling = max(idf.values(), default=1.0)
    return {term: share * idf.get(term, ceiling) for term, share in own.items()}


# Candidates ------------------------------------------------------------------


def _candidates(hits: list[Hit], documents: dict[str, Document]) -> list[Candidate]:
    found = []
    for hit in hits:
        document = documents.get(hit.document_id)
        if document is None:
            continue
        if document.mime_type in TABULAR:
            found += _rows(hit, document)
            continue
        for start, end in sentences(hit):
            local = hit.text[start - hit.start_char : end - hit.start_char]
            if "\n" in local and _tabular(local):
                found += _table_lines(hit, document, start, end)
            else:
                found.append(Candidate(hit, *_whole_sentence(document, start, end)))
    return found


def sentences(hit: Hit) -> list[tuple[int, int]]:
    """Sentence spans of a hit, as absolute offsets into its document's text."""
    text = hit.text
    cuts = [0, *(m.end() for m in _BOUNDARY.finditer(text)), len(text)]
    spans = []
    for left, right in itertools.pairwise(cuts):
        pieces = [(left, right)]
        if right - left > MAX_SENTENCE_CHARS:
            # Tables and lists have no full stops: fall back to their lines.
            lines = [left + m.end() for m in re.finditer(r"\n", text[left:right])]
            pieces = list(itertools.pairwise([left, *lines, right]))
        for start, end in pieces:
            start, end = _strip(text, start, end)
            if end - start >= 20:
                spans.append((hit.start_char + start, hit.start_char + end))
    return spans


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _table_line(line: str) -> bool:
    """Two or more figures and few words: a line of a table, not of prose."""
    return len(_FIGURE.findall(line)) >= 2 and len(_WORD.findall(line)) <= 10


def _tabular(text: str) -> bool:
    """Most lines are table lines."""
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(map(_table_line, lines)) >= max(2, len(lines) // 2)


def _lines(text: str, offset: int) -> Iterator[tuple[int, int]]:
    position = 0
    for line in text.splitlines(keepends=True):
        start, end = _strip(text, position, position + len(line))
        position += len(line)
        if end > start:
            yield offset + start, offset + end


def _table_lines(hit: Hit, document: Document, start: int, end: int) -> list[Candidate]:
    found = []
    for left, right in _lines(document.text[start:end], start):
        if _table_line(document.text[left:right]):
            header = _table_header(document.text, left)
            found.append(Candidate(hit, left, right, row=True, header=header))
    return found


def _table_header(text: str, row_start: int) -> tuple[int, int] | None:
    """The nearest line above a table row that names its columns (years, periods)."""
    window_start = max(0, row_start - 4000)
    lines = list(_lines(text[window_start:row_start], window_start))
    for left, right in reversed(lines[-HEADER_LOOKBACK_LINES:]):
        line = text[left:right]
        if len(_PERIOD.findall(line)) >= 2 and len(_WORD.findall(line)) <= 12:
            return left, right
    return None


def _rows(hit: Hit, document: Document) -> list[Candidate]:
    """Each table row of the hit, with its header row (its sheet's, in a workbook).

    Never the header alone, nor a sheet's `# Sheet:` line: neither answers.
    """
    found = []
    for left, right in _lines(hit.text, hit.start_char):
        header = _header_row(document, left)
        if header is not None and left >= header[1]:
            found.append(Candidate(hit, left, right, row=True, header=header))
    return found


def _header_row(document: Document, offset: int) -> tuple[int, int] | None:
    """The header row of the table that holds `offset`."""
    if document.mime_type == XLSX:
        sheet = sheets.sheet_at(document.text, offset)
        return sheet.header if sheet is not None else None
    first_line = document.text.split("\n", 1)[0]
    return _strip(document.text, 0, len(first_line))


def _whole_sentence(document: Document, start: int, end: int) -> tuple[int, int]:
    """Widen a sentence cut by a chunk boundary to the document's sentence."""
    text = document.text
    if start > 0 and text[start].islower():
        window = text[max(0, start - 300) : start]
        cut = max((m.end() for m in _BOUNDARY.finditer(window)), default=None)
        if cut is not None:
            start = max(0, start - 300) + cut
    if end < len(text) and text[end - 1] not in ".!?\"')]":
        match = _BOUNDARY.search(text, end, min(len(text), end + 300))
        if match is not None:
            end = _strip(text, start, match.start() + 1)[1]
    return start, end


# Scoring ---------------------------------------------------------------------


def title_terms(title: str) -> set[str]:
    """Terms of a document title, its parts split (BESTBUY_2024Q2_10Q, camelCase)."""
    return set(terms(" ".join(_SPLIT_TITLE.split(title))))


def _score(
    candidate: Candidate,
    document: Document,
    weights: Mapping[str, float],
    total: float,
    wants_number: bool,
) -> None:
    text = document.text[candidate.start : candidate.end]
    quality = _quality(text, candidate.row)
    if quality == 0:
        return
    own = set(terms(text))
    context = title_terms(document.title)
    if candidate.header is not None:
        context |= set(terms(document.text[slice(*candidate.header)]))
    direct = sum(w for term, w in weights.items() if term in own)
    indirect = sum(
        w for term, w in weights.items() if term in context and term not in own
    )
    candidate.coverage = (direct + CONTEXT_WEIGHT * indirect) / total
    candidate.matched = frozenset(t for t in weights if t in own or t in context)
    if direct == 0:
        candidate.coverage = 0.0
        return
    # Long passages cover more by chance: a gentle length penalty.
    candidate.score = candidate.coverage * quality / math.sqrt(len(own) + 8)
    if wants_number and _DIGIT.search(text):
        candidate.score *= 1.5


def _quality(text: str, row: bool) -> float:
    """0 for what reads as junk (a fragment, a stutter, a heading alone), else 1."""
    words = _WORD.findall(text)
    if row:
        return 1.0 if words and _DIGIT.search(text) else 0.0
    lowered = [w.lower() for w in words]
    if any(a == b for a, b in itertools.pairwise(lowered)):
        return 0.0  # "quarter quarter", "Percent Percent": column labels run together
    if len(words) < 4:
        return 0.0
    if text[0].islower():
        return 0.5  # a sentence whose start nothing before it explains
    if text[-1] not in ".!?:;\"')]%" and not _DIGIT.search(text) and len(words) < 10:
        return 0.0  # a heading, not an answer
    return 1.0


def unsupported_share(
    weights: Mapping[str, float], hits: list[Hit], documents: dict[str, Document]
) -> float:
    """The share of the question's weight that nothing retrieval found mentions.

    Full-text search ranks rare terms first, so a rare term that no retrieved
    chunk (nor its document's title) holds is one the documents lack: a
    question about parental leave over financial filings.
    """
    found: set[str] = set()
    for hit in hits:
        found |= set(terms(hit.text))
        document = documents.get(hit.document_id)
        if document is not None:
            found |= title_terms(document.title)
    found = with_parts(found)
    missing = sum(w for term, w in weights.items() if not holds(found, term))
    return missing / sum(weights.values())


_JOINER = re.compile(r"['’.-]")


def term_parts(term: str) -> list[str]:
    """The stemmed parts of a joined term ("inflammation-relat", "amazon'")."""
    return [p for p in terms(" ".join(_JOINER.split(term))) if p != term]


def with_parts(found: Iterable[str]) -> set[str]:
    """Terms and the parts of the joined ones, so either spelling matches."""
    expanded = set(found)
    for term in list(expanded):
        if _JOINER.search(term):
            expanded.update(term_parts(term))
    return expanded


def holds(found: set[str], term: str) -> bool:
    """Whether `found` holds a term: itself, or every part of a joined one.

    "inflammation-related" in a claim is found in "inflammation related" (or
    "inflammation-related") in an abstract; "Amazon's" in "Amazon".
    """
    if term in found:
        return True
    parts = term_parts(term) if _JOINER.search(term) else []
    return bool(parts) and all(part in found for part in parts)


def _distinct(
    candidates: list[Candidate], documents: dict[str, Document]
) -> list[Candidate]:
    """Each passage once, however many chunks or pages repeat it."""
    seen: set[str] = set()
    kept = []
    for candidate in candidates:
        text = documents[candidate.hit.document_id].text
        key = " ".join(text[candidate.start : candidate.end].split()).lower()
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


# The answer ------------------------------------------------------------------


def _segment(candidate: Candidate, document: Document, wants_number: bool) -> Segment:
    start, end = candidate.start, candidate.end
    if wants_number and not _DIGIT.search(document.text[start:end]):
        # The next sentence often carries the figure the question asks for.
        following = _next_sentence(document.text, end)
        if following is not None and _DIGIT.search(document.text[slice(*following)]):
            end = following[1]
    text = document.text[start:end]
    citations = [_citation(document, start, end, candidate.hit.chunk_id)]
    if candidate.header is not None:
        header = document.text[slice(*candidate.header)]
        if document.mime_type in TABULAR:
            text = _csv_row(header, text)
        else:
            text = f"{text} (columns: {header})"
        citations.append(_citation(document, *candidate.header, None))
    return Segment(text=text + " ", citations=citations)


def _next_sentence(text: str, end: int) -> tuple[int, int] | None:
    start = end
    while start < len(text) and text[start] in " \t\n\"')]":
        start += 1
    limit = min(len(text), start + 400)
    match = _BOUNDARY.search(text, start + 1, limit)
    stop = match.start() if match is not None else limit
    start, stop = _strip(text, start, stop)
    return (start, stop) if stop - start >= 10 else None


def _csv_row(header: str, row: str) -> str:
    """ "office: Krakow, headcount: 85" from a header row and a data row."""
    names = [name.strip() for name in next(csv.reader([header]), [])]
    values = [value.strip() for value in next(csv.reader([row]), [])]
    # A workbook row drops its empty trailing cells.
    values += [""] * (len(names) - len(values))
    if len(names) != len(values):
        return row
    return ", ".join(f"{n}: {v}" for n, v in zip(names, values, strict=True) if v)


def _citation(
    document: Document, start: int, end: int, chunk_id: int | None
) -> CitationData:
    page = document.page_of(start)
    return CitationData(
        kind="page_location" if document.is_pdf else "char_location",
        document=document,
        cited_text=document.text[start:end],
        start_char=start,
        end_char=end,
        start_page=page,
        end_page=document.page_of(end - 1) if page else None,
        chunk_id=chunk_id,
    )
