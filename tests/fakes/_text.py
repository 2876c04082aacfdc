"""Deterministic text helpers shared by the fakes: terms, sentences, token counts."""

from __future__ import annotations

import re

_STOP_WORDS_TEXT = """
    a about above after again against all am an and any are as at be because been
    before being below between both but by can could did do does doing down during
    each few for from further had has have having he her here hers herself him
    himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same
    she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself
    yourselves tell please say said also may might must shall us via per using use
    used document documents provided based according
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_WORD = re.compile(r"\w+")
# Sentence ends: terminal punctuation (plus closing quotes/brackets) followed by
# whitespace, or a paragraph break (a blank line). The trailing whitespace belongs
# to the sentence, as in the real API's char_location citations ("... green. ").
_SENTENCE_END = re.compile(
    r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)\s*|\n[ \t\r\f\v]*\n\s*",
)


def normalize_word(word: str) -> str:
    """Lowercase and strip a plural ending, so 'policies' matches 'policy'."""
    word = word.lower()
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Return the normalized word tokens of a text, in order."""
    return [normalize_word(w) for w in _WORD.findall(text)]


def is_content_word(word: str) -> bool:
    """Tell whether a normalized word carries meaning (not a stop word, not tiny)."""
    if word in STOP_WORDS:
        return False
    return len(word) >= 3 or any(c.isdigit() for c in word)


def content_terms(text: str) -> set[str]:
    """Return the set of meaningful normalized words in a text."""
    return {w for w in words(text) if is_content_word(w)}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split text into sentence spans [start, end) that include trailing whitespace."""
    spans: list[tuple[int, int]] = []
    start = len(text) - len(text.lstrip())
    for match in _SENTENCE_END.finditer(text):
        if match.start() < start:
            continue
        end = match.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans


def claude_tokens(text: str) -> int:
    """Estimate Claude tokens: about four characters per token."""
    return len(text) // 4 + 1
