"""The offline answerer: exact quotes when the documents answer, else "not found"."""

from __future__ import annotations

from typing import Any

from search.answering import answer_question
from search.citations import NOT_FOUND
from search.offline import is_follow_up, question_terms, title_terms
from tests.conftest import HANDBOOK, ingested

OFFICES = (
    "office,city,country,headcount,opened\n"
    "HQ,Berlin,Germany,240,2012\n"
    "Krakow,Kraków,Poland,85,2017\n"
    "Lisbon,Lisbon,Portugal,42,2019\n"
)

RESULTS = (
    "# Results\n\n"
    "Acme's revenue was 10 million dollars in 2023, up from 8 million in 2022. "
    "Acme's net income was 2 million dollars in 2023.\n\n"
    "Globex reported a net income of 5 million dollars in 2023.\n"
)

TABLE = (
    "# Quarterly results\n\n"
    "Adjusted earnings grew in every region this year.\n\n"
    "Metric 2023 2022\n"
    "Adjusted EBITDA 2,018 2,117\n"
    "Free cash flow 1,015 957\n"
    "Net debt 6,067 6,053\n"
)


def _ask(user: Any, question: str, **kwargs: Any) -> Any:
    from documents.services import workspace_default_for_user

    workspace = workspace_default_for_user(user=user)
    return answer_question(workspace=workspace, user=user, text=question, **kwargs)


def test_a_question_the_documents_do_not_answer_is_not_found(user: Any) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    ingested(user, "results.md", RESULTS.encode())
    answer = _ask(user, "What is our parental leave policy?")
    assert answer.text == NOT_FOUND
    assert not answer.citations.exists()


def test_a_question_the_documents_answer_is_quoted_exactly(user: Any) -> None:
    document = ingested(user, "handbook.md", HANDBOOK.encode())
    answer = _ask(user, "How many days of paid vacation do employees get?")
    assert "25 days of paid vacation" in answer.text
    citation = answer.citations.get(ordinal=1)
    assert citation.cited_text == document.text[citation.start_char : citation.end_char]


def test_a_csv_row_is_answered_with_its_header(user: Any) -> None:
    document = ingested(user, "offices.csv", OFFICES.encode())
    answer = _ask(user, "What is the Krakow headcount?")
    assert answer.text == (
        "office: Krakow, city: Kraków, country: Poland, headcount: 85, opened: 2017"
    )
    assert "office,city" not in answer.text
    cited = [c.cited_text for c in answer.citations.order_by("ordinal")]
    assert cited == [
        "Krakow,Kraków,Poland,85,2017",
        "office,city,country,headcount,opened",
    ]
    for citation in answer.citations.all():
        assert (
            document.text[citation.start_char : citation.end_char]
            == citation.cited_text
        )


def test_a_table_line_is_quoted_with_its_column_header(user: Any) -> None:
    document = ingested(user, "results.md", TABLE.encode())
    answer = _ask(user, "What was the adjusted EBITDA in 2023?")
    assert answer.text.startswith("Adjusted EBITDA 2,018 2,117 (columns: Metric 2023")
    cited = [c.cited_text for c in answer.citations.order_by("ordinal")]
    assert cited[:2] == ["Adjusted EBITDA 2,018 2,117", "Metric 2023 2022"]
    row = answer.citations.get(ordinal=1)
    assert document.text[row.start_char : row.end_char] == row.cited_text


def test_a_follow_up_is_read_with_the_question_before_it(user: Any) -> None:
    ingested(user, "results.md", RESULTS.encode())
    first = _ask(user, "What was Acme's revenue in 2023?")
    assert "10 million" in first.text
    conversation = first.question.conversation
    follow_up = _ask(user, "And what was net income?", conversation=conversation)
    assert "Acme's net income was 2 million" in follow_up.text
    assert "Globex" not in follow_up.text


def test_the_next_sentence_is_added_when_it_holds_the_asked_figure(user: Any) -> None:
    text = (
        "# Contracts\n\n"
        "The company signed a new framework contract with the city of Lyon "
        "for street lighting maintenance. The contract is worth 4.2 million euros "
        "over five years.\n"
    )
    ingested(user, "contracts.md", text.encode())
    answer = _ask(user, "How much is the Lyon street lighting contract worth?")
    assert "4.2 million euros" in answer.text


def test_stuttering_fragments_are_never_quoted(user: Any) -> None:
    text = (
        "# Report\n\n"
        "Fiscal 2022 the quarter quarter during the quarter quarter\n\n"
        "During the quarter the company opened twelve new stores in Ohio.\n"
    )
    ingested(user, "report.md", text.encode())
    answer = _ask(user, "How many stores opened during the quarter?")
    assert "quarter quarter" not in answer.text
    assert "twelve new stores" in answer.text


def test_question_terms_read_fiscal_years_and_drop_the_phrasing() -> None:
    assert question_terms("Round FY2023 revenue to one decimal place") == [
        "fiscal",
        "2023",
        "revenue",
        "one",
    ]


def test_titles_are_split_into_their_words() -> None:
    assert {"bestbuy", "2024", "q2"} <= title_terms("BESTBUY_2024Q2_10Q")
    assert {"board", "report"} <= title_terms("q3-boardReport.final")


def test_follow_ups_are_told_from_new_questions() -> None:
    assert is_follow_up("And what was net income?")
    assert is_follow_up("What about its margin?")
    assert not is_follow_up("What was Globex's net income in 2023?")


def test_a_joined_word_is_found_in_its_parts() -> None:
    from documents.lexical import terms
    from search.offline import holds, with_parts

    (joined,) = terms("inflammation-related")
    assert holds(with_parts(terms("inflammation related fibrosis")), joined)
    assert holds(with_parts(terms("inflammation-related fibrosis")), joined)
    (possessive,) = terms("Amazon's")
    assert holds(with_parts(terms("Amazon reported")), possessive)
    # Every part must be there: half a compound is not the compound.
    assert not holds(with_parts(terms("inflammation of the lung")), joined)


def test_a_question_spelling_joined_words_apart_is_still_answered(
    user: Any,
) -> None:
    ingested(user, "handbook.md", HANDBOOK.encode())
    ingested(
        user,
        "lung.md",
        b"# Lung study\n\nAMPK activation increases inflammation related fibrosis "
        b"in aged lung tissue.\n",
    )
    answer = _ask(
        user, "AMPK-activation increases inflammation-related fibrosis in lung-tissue"
    )
    assert answer.text != NOT_FOUND
    assert "inflammation related fibrosis" in answer.text
