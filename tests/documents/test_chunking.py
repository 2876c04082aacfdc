"""Chunking keeps exact offsets, respects pages and headings, and bounds sizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from documents.ingestion.chunking import chunk_text
from documents.lexical import CHARS_PER_TOKEN

_words = st.text(
    alphabet=st.sampled_from(list("abcdefgh .!?\n#\t")), min_size=0, max_size=3000
)


@settings(max_examples=150, deadline=None)
@given(text=_words, max_tokens=st.integers(16, 200), overlap=st.integers(0, 50))
def test_every_chunk_is_an_exact_slice_within_bounds(
    text: str, max_tokens: int, overlap: int
) -> None:
    chunks = chunk_text(text, max_tokens=max_tokens, overlap_tokens=overlap)
    limit = max(64, max_tokens * CHARS_PER_TOKEN)
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(text)
        piece = text[chunk.start : chunk.end]
        assert piece == piece.strip()
        assert len(piece) <= limit
    # Every non-space character lands in some chunk.
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # Chunks advance: starts strictly increase within the document.
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)


@settings(max_examples=60, deadline=None)
@given(pages=st.lists(_words, min_size=1, max_size=5))
def test_chunks_never_cross_pages(pages: list[str]) -> None:
    text = ""
    starts = []
    for index, page in enumerate(pages):
        if index:
            text += "\n\n"
        starts.append(len(text))
        text += page
    for chunk in chunk_text(text, starts, max_tokens=40):
        assert chunk.page is not None
        page_start = starts[chunk.page - 1]
        page_end = starts[chunk.page] if chunk.page < len(starts) else len(text)
        assert page_start <= chunk.start and chunk.end <= page_end


def test_headings_label_their_sections() -> None:
    text = "# Guide\n\nIntro.\n\n## Setup\n\nInstall it.\n\n## Use\n\nRun it.\n"
    chunks = chunk_text(text, max_tokens=16)
    by_text = {text[c.start : c.end]: c.heading for c in chunks}
    assert any("Install it." in t and h == "Guide › Setup" for t, h in by_text.items())
    assert any("Run it." in t and h == "Guide › Use" for t, h in by_text.items())


def test_long_paragraphs_split_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} says something useful." for i in range(60)]
    text = " ".join(sentences)
    chunks = chunk_text(text, max_tokens=50, overlap_tokens=12)
    assert len(chunks) > 5
    for chunk in chunks:
        piece = text[chunk.start : chunk.end]
        assert piece.startswith("Sentence number")
        assert piece.endswith("useful.")
    # Neighbours share a sentence, so a fact on a boundary is found whole.
    assert chunks[1].start < chunks[0].end
