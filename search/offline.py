"""The offline answerer: the retrieved sentences that share the question's rarest terms.

Used without ANTHROPIC_API_KEY; it streams in the same parts as Claude's answer
and cites exact character ranges, so the pages work the same in both modes.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator

from documents.lexical import terms
from documents.models import Document
from search.citations import NOT_FOUND, CitationData, Part, Result, Segment
from search.models import Answer
from search.retrieval import Hit

MAX_OFFLINE_SENTENCES = 3

# A sentence ends at . ! or ? followed by space, or at a blank line; a single
# newline is only a wrapped line (PDF text is full of them).
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n[ \t]*\n\s*")
MAX_SENTENCE_CHARS = 400
# Questions after a quantity are answered by sentences that hold a number.
_QUANTITY = re.compile(
    r"\b(how (many|much|long|often)|what (percent|share|amount|number)|when)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")


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
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end - start >= 20:
                spans.append((hit.start_char + start, hit.start_char + end))
    return spans


def offline_parts(question: str, hits: list[Hit], result: Result) -> Iterator[Part]:
    """The offline answer, streamed in the same parts as Claude's."""
    answer = offline_answer(question, hits)
    result.model = answer.model
    for segment in answer.segments:
        yield ("segment", None)
        # Word by word, so the page streams offline as it does with Claude.
        for piece in re.findall(r"\S+\s*", segment.text):
            yield ("text", piece)
        for citation in segment.citations:
            yield ("citation", citation)


def offline_answer(question: str, hits: list[Hit]) -> Result:
    """Pick the retrieved sentences that share the question's rarest terms."""
    wanted = set(terms(question))
    documents = {
        str(d.id): d
        for d in Document.objects.filter(id__in={h.document_id for h in hits})
    }
    candidates: list[tuple[Hit, int, int, set[str]]] = []
    for hit in hits:
        for start, end in sentences(hit):
            local = hit.text[start - hit.start_char : end - hit.start_char]
            candidates.append((hit, start, end, set(terms(local))))
    if not wanted or not candidates:
        return Result(mode=Answer.Mode.OFFLINE, model="", segments=[Segment(NOT_FOUND)])
    frequency = Counter(term for *_, found in candidates for term in found & wanted)
    total = len(candidates)

    def weight(term: str) -> float:
        return math.log(1.0 + total / (1 + frequency[term]))

    wants_number = bool(_QUANTITY.search(question))
    scored = []
    seen: set[tuple[str, int]] = set()
    for rank, (hit, start, end, found) in enumerate(candidates):
        shared = found & wanted
        if not shared or (hit.document_id, start) in seen:
            continue
        seen.add((hit.document_id, start))
        score = sum(weight(term) for term in shared) / math.sqrt(len(found) + 4)
        if wants_number and _DIGIT.search(
            hit.text[start - hit.start_char :][: end - start]
        ):
            score *= 1.5
        scored.append((score, -rank, hit, start, end))
    scored.sort(key=lambda item: (item[0], item[1]), reverse=True)
    # Only sentences nearly as good as the best: a weak runner-up adds noise.
    best = [item for item in scored if item[0] >= 0.5 * scored[0][0]] if scored else []
    best = best[:MAX_OFFLINE_SENTENCES]
    if not best or best[0][0] <= 0:
        return Result(mode=Answer.Mode.OFFLINE, model="", segments=[Segment(NOT_FOUND)])
    segments = []
    for _, _, hit, start, end in best:
        document = documents[hit.document_id]
        cited = document.text[start:end]
        page = document.page_of(start)
        citation = CitationData(
            kind="page_location" if document.is_pdf else "char_location",
            document=document,
            cited_text=cited,
            start_char=start,
            end_char=end,
            start_page=page,
            end_page=document.page_of(end - 1) if page else None,
            chunk_id=hit.chunk_id,
        )
        segments.append(Segment(text=cited + " ", citations=[citation]))
    return Result(
        mode=Answer.Mode.OFFLINE, model="offline-extractive", segments=segments
    )
