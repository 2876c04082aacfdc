"""Score the offline answerer: expected figures found, and "not found" said when due.

Ingests the FinanceBench sample PDFs (plus a small office CSV) into a scratch
workspace, asks the sample questions and a set of questions the documents do
not answer, and reports how often an answer holds the expected figure or cites
the evidence page, and the precision and recall of "not found".
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents.ingestion.pipeline import document_ingest
from documents.models import Membership, Workspace
from documents.services import document_create
from search import evaluation
from search.answering import answer_question
from search.citations import NOT_FOUND
from search.models import Answer

OFFICES_CSV = (
    "office,city,country,headcount,opened\n"
    "HQ,Berlin,Germany,240,2012\n"
    "Krakow,Kraków,Poland,85,2017\n"
    "Lisbon,Lisbon,Portugal,42,2019\n"
    "Austin,Austin,United States,130,2015\n"
    "Pune,Pune,India,64,2021\n"
)

# What a team asks that filings (and an office list) never answer.
UNANSWERABLE = (
    "What is our parental leave policy?",
    "How many vacation days do new employees get?",
    "What is the Wi-Fi password for the guest network?",
    "How do I reset my VPN token?",
    "What is the dress code in the Lisbon office?",
    "When is the next company offsite?",
    "Which programming languages does the engineering team use?",
    "Who approves travel expenses over 500 euros?",
    "What is the recipe for the cafeteria lasagna?",
    "How do I book a meeting room?",
)

# Questions on the CSV: (question, the figure the answer must hold).
TABLE_QUESTIONS = (
    ("What is the Krakow headcount?", "85"),
    ("When was the Pune office opened?", "2021"),
    ("How many people work in the Austin office?", "130"),
)

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass
class Case:
    """One question and what counts as answering it."""

    question: str
    figures: tuple[str, ...] = ()
    evidence: tuple[str, int] | None = None  # (document title, 1-based page)
    answerable: bool = True
    previous: str = ""


def expected_figures(answer: str, evidence: str) -> tuple[str, ...]:
    """Numbers of the gold answer that the evidence page also holds."""
    found = []
    for number in _NUMBER.findall(answer):
        bare = number.rstrip(".,")
        digits = bare.replace(",", "").replace(".", "")
        if len(digits) < 2 or bare in found:
            continue
        if bare in evidence:
            found.append(bare)
    return tuple(found)


def load_cases(sample: Path) -> list[Case]:
    cases = []
    with (sample / "questions.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            evidence = row["evidence"][0]
            cases.append(
                Case(
                    question=row["question"],
                    figures=expected_figures(
                        row["answer"], evidence.get("evidence_text_full_page", "")
                    ),
                    evidence=(row["doc_name"], int(evidence["evidence_page_num"]) + 1),
                )
            )
    cases += [Case(question=q, figures=(f,)) for q, f in TABLE_QUESTIONS]
    cases += [Case(question=q, answerable=False) for q in UNANSWERABLE]
    return cases


def split_claims(
    queries: dict[str, str], split: str, limit: int = 0
) -> list[tuple[str, str]]:
    """SciFact claims of one split: even ids for dev, odd ids held out."""
    parity = 0 if split == "dev" else 1
    claims = sorted(
        (item for item in queries.items() if int(item[0]) % 2 == parity),
        key=lambda item: int(item[0]),
    )
    return claims[:limit] if limit else claims


def said_not_found(answer: Answer) -> bool:
    return answer.text.strip() == NOT_FOUND


def grade(case: Case, answer: Answer) -> dict[str, bool]:
    text = answer.text.replace("\n", " ")
    figure = any(f in text for f in case.figures) if case.figures else False
    page = False
    if case.evidence is not None:
        title, number = case.evidence
        page = any(
            c.document.title == title
            and c.start_page is not None
            and (c.start_page <= number <= (c.end_page or c.start_page))
            for c in answer.citations.all()
        )
    return {"figure": figure, "page": page, "not_found": said_not_found(answer)}


class Command(BaseCommand):
    help = "Score the offline answerer on the FinanceBench sample and unanswerables."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sample",
            type=Path,
            default=Path(settings.BASE_DIR).parent
            / "shared"
            / "data"
            / "financebench-sample",
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep and reuse the workspace."
        )
        parser.add_argument("--verbose", action="store_true")
        parser.add_argument(
            "--scifact",
            type=Path,
            default=Path(settings.BASE_DIR).parent / "shared" / "data" / "scifact",
            help="Held-out check: SciFact claims in their own corpus (answerable) "
            "and in the filings workspace (unanswerable).",
        )
        parser.add_argument(
            "--claims",
            type=int,
            default=0,
            help="At most this many SciFact claims of the split (0: all of them).",
        )
        parser.add_argument(
            "--split",
            choices=("dev", "held-out"),
            default="dev",
            help="SciFact claims with an even id (dev: the answerer is tuned on "
            "them and the FinanceBench sample) or an odd id (held-out: checked "
            "once, never tuned on).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        sample: Path = options["sample"]
        if not (sample / "questions.jsonl").is_file():
            raise CommandError(f"{sample} holds no questions.jsonl")
        user, _ = get_user_model().objects.get_or_create(username="eval-answers")
        workspace = self._workspace(sample, user, reuse=options["keep"])
        try:
            self._run(load_cases(sample), workspace, user, options["verbose"])
            scifact: Path = options["scifact"]
            if (scifact / "corpus.jsonl").is_file():
                self._scifact(scifact, workspace, user, options)
        finally:
            if not options["keep"]:
                workspace.delete()

    def _workspace(self, sample: Path, user: Any, *, reuse: bool) -> Workspace:
        name = "eval:answers"
        workspace = Workspace.objects.filter(name=name).first()
        pdfs = sorted((sample / "pdfs").glob("*.pdf"))
        ready = workspace.documents.filter(status="ready") if workspace else None
        if reuse and ready is not None and ready.count() == len(pdfs) + 1:
            assert workspace is not None
            return workspace
        if workspace is not None:
            workspace.delete()
        workspace = Workspace.objects.create(name=name)
        Membership.objects.create(user=user, workspace=workspace, role="admin")
        started = time.monotonic()
        files = [(p.name, p.read_bytes()) for p in pdfs]
        files.append(("offices.csv", OFFICES_CSV.encode()))
        for name_, data in files:
            created = document_create(
                workspace=workspace,
                uploader=user,
                upload=SimpleUploadedFile(name_, data),
            )
            document_ingest(document_id=created.document.id)
        self.stdout.write(
            f"Ingested {len(files)} documents in {time.monotonic() - started:.1f} s"
        )
        return workspace

    def _run(
        self, cases: list[Case], workspace: Workspace, user: Any, verbose: bool
    ) -> None:
        rows = []
        for case in cases:
            answer = answer_question(workspace=workspace, user=user, text=case.question)
            result = grade(case, answer)
            rows.append((case, result))
            if verbose:
                self.stdout.write(f"\nQ: {case.question}\n   {result}")
                self.stdout.write("   A: " + answer.text[:400].replace("\n", " "))
        answerable = [(c, r) for c, r in rows if c.answerable]
        unanswerable = [(c, r) for c, r in rows if not c.answerable]
        with_figure = [(c, r) for c, r in answerable if c.figures]
        with_page = [(c, r) for c, r in answerable if c.evidence]
        said = [r["not_found"] for _, r in rows]
        true_nf = sum(r["not_found"] for _, r in unanswerable)
        precision = true_nf / sum(said) if sum(said) else 0.0
        recall = true_nf / len(unanswerable) if unanswerable else 0.0
        self.stdout.write(
            f"\nexpected figure in the answer: "
            f"{sum(r['figure'] for _, r in with_figure)}/{len(with_figure)}"
        )
        self.stdout.write(
            f"evidence page cited: {sum(r['page'] for _, r in with_page)}"
            f"/{len(with_page)}"
        )
        self.stdout.write(
            f"'not found' on answerable questions: "
            f"{sum(r['not_found'] for _, r in answerable)}/{len(answerable)}"
        )
        self.stdout.write(
            f"'not found' on unanswerable questions: {true_nf}/{len(unanswerable)}"
            f"  (precision {precision:.2f}, recall {recall:.2f})"
        )

    def _scifact(
        self, path: Path, filings: Workspace, user: Any, options: dict[str, Any]
    ) -> None:
        """SciFact claims of one split, twice: in their own corpus and the filings."""
        beir = evaluation.load_beir(path)
        name = "eval:answers:scifact"
        workspace = Workspace.objects.filter(name=name).first()
        if not (
            options["keep"]
            and workspace is not None
            and workspace.documents.count() == len(beir.corpus)
        ):
            workspace = evaluation.ingest(beir, name)
        Membership.objects.get_or_create(
            user=user, workspace=workspace, defaults={"role": "admin"}
        )
        claims = split_claims(beir.queries, options["split"], options["claims"])
        said, relevant, elsewhere = 0, 0, 0
        try:
            for query_id, claim in claims:
                answer = answer_question(workspace=workspace, user=user, text=claim)
                said += said_not_found(answer)
                cited = {c.document.title for c in answer.citations.all()}
                relevant += bool(cited & set(beir.qrels.get(query_id, {})))
                stray = answer_question(workspace=filings, user=user, text=claim)
                elsewhere += said_not_found(stray)
        finally:
            if not options["keep"]:
                workspace.delete()
        self.stdout.write(
            f"\nSciFact, {len(claims)} claims ({options['split']} split):\n"
            f"  in their own corpus: 'not found' {said}/{len(claims)}, "
            f"a relevant abstract cited {relevant}/{len(claims)}\n"
            f"  in the filings workspace: 'not found' {elsewhere}/{len(claims)}"
        )
