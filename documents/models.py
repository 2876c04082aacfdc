"""Workspaces, memberships, documents, chunks and API tokens."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Func
from django.db.models.functions import Concat, Lower, Upper
from django.utils import timezone
from pgvector.django import VectorField


class Workspace(models.Model):
    """A team's space: documents, questions and answers belong to one."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)
    # Claude's web fetch tool while answering, and the domain lists that also
    # govern adding URLs to the knowledge base (at most one list is non-empty).
    web_fetch_enabled = models.BooleanField(default=False)
    web_fetch_max_uses = models.PositiveSmallIntegerField(default=5)
    web_fetch_max_content_tokens = models.PositiveIntegerField(default=50_000)
    # False: the tool bypasses its cache and always fetches fresh (use_cache).
    web_fetch_use_cache = models.BooleanField(default=True)
    allowed_domains = models.JSONField(default=list, blank=True)
    blocked_domains = models.JSONField(default=list, blank=True)
    # Private host names and networks URL documents may reach on purpose
    # (documents.remote.intranet); every change is kept in IntranetSourceChange.
    intranet_sources = models.JSONField(default=list, blank=True)
    # Claude's code execution tool over a retrieved CSV or Excel document when
    # a question asks for a computation (search/code_execution.py).
    code_execution_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in a workspace."""

    class Role(models.TextChoices):
        VIEWER = "viewer"
        EDITOR = "editor"
        ADMIN = "admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ADMIN)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workspace"], name="unique_membership"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class Invitation(models.Model):
    """A pending membership for an email address, accepted through its token link."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.VIEWER
    )
    token = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    accepted = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"


UNIQUE_UPLOAD = "document_unique_upload_per_workspace"
UNIQUE_URL = "document_unique_url_per_workspace"
# The image documents Cairn reads (documents.ingestion.images).
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class Document(models.Model):
    """An uploaded file and the state of its ingestion."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="documents"
    )
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="documents",
    )
    original = models.FileField(upload_to="originals/%Y/%m/")
    original_name = models.CharField(max_length=255)
    title = models.CharField(max_length=255)
    mime_type = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    # The technical reason, for admins; people read the message of failure_kind.
    error = models.TextField(blank=True)
    # What kind of failure (documents.ingestion.failures): decides the plain
    # message and whether a retry can help.
    failure_kind = models.CharField(max_length=30, blank=True)
    # The text every chunk offset and char_location citation indexes into.
    text = models.TextField(blank=True)
    # Character offset where each page starts in `text` (PDFs only).
    page_starts = models.JSONField(default=list, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    # Pages (1-based) whose text came from OCR (scans, images), and pages OCR
    # found no text on: shown on the document page, never silently empty.
    ocr_pages = models.JSONField(default=list, blank=True)
    unreadable_pages = models.JSONField(default=list, blank=True)
    # The title search reads (ingestion.titles.search_title): set at extraction,
    # when the PDF's metadata title and first page heading are at hand.
    search_title = models.TextField(blank=True, default="")
    # The same title as full text: retrieval ranks documents by it (the
    # company and year a question names) and searches the best ones' chunks.
    title_vector = models.GeneratedField(
        expression=SearchVector("search_title", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    file_id = models.CharField(max_length=100, blank=True)
    # Why the Files API step was skipped ("offline", "too large", ...), if it was.
    files_api_note = models.CharField(max_length=200, blank=True)
    # Set just before an upload; a redelivered task that finds it set (and no
    # file_id) adopts the file the killed attempt uploaded instead of a second one.
    upload_started = models.DateTimeField(null=True, blank=True)
    # When the remote file expires (FILES_API_EXPIRES_IN_S); null: never.
    expires_at = models.DateTimeField(null=True, blank=True)
    embedding_model = models.CharField(max_length=100, blank=True)
    # Free labels a question can be scoped to ("policy", "finance", ...).
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    ingested = models.DateTimeField(null=True, blank=True)
    # Set for documents added by URL: where the snapshot in `original` came from.
    source_url = models.URLField(max_length=250, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # What the list's title search reads: kept by PostgreSQL, upper-cased once
    # per write instead of on every row of every search.
    search_text = models.GeneratedField(
        expression=Upper(
            Concat(
                "title",
                models.Value(" "),
                "original_name",
                models.Value(" "),
                "source_url",
                output_field=models.TextField(),
            )
        ),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["workspace", "-created"]),
            GinIndex(fields=["tags"], name="document_tags_gin"),
            GinIndex(fields=["title_vector"], name="document_title_vector_gin"),
            # The list sorted by title reads a page from here, not a sort of all.
            models.Index(
                models.F("workspace"), Lower("title"), name="document_title_lower"
            ),
        ]
        constraints = [
            # One upload of the same bytes per workspace, decided by the database:
            # a check before the insert lets concurrent uploads all pass it.
            # URL documents are keyed by their URL instead (their sha256 is empty
            # until fetched, and two URLs may serve the same bytes).
            models.UniqueConstraint(
                fields=["workspace", "sha256"],
                condition=models.Q(source_url=""),
                name=UNIQUE_UPLOAD,
            ),
            # One document per URL per workspace, likewise; source_url is stored
            # normalised (documents.web.documents.normalised_url), so spellings
            # of one address are one key.
            models.UniqueConstraint(
                fields=["workspace", "source_url"],
                condition=~models.Q(source_url=""),
                name=UNIQUE_URL,
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_pdf(self) -> bool:
        return self.mime_type == "application/pdf"

    @property
    def is_image(self) -> bool:
        return self.mime_type in IMAGE_TYPES

    @property
    def sends_original(self) -> bool:
        """Whether the Files API gets the file itself (PDF, image), not its text."""
        return self.is_pdf or self.is_image

    def page_of(self, offset: int) -> int | None:
        """Return the 1-based page holding a character offset (PDFs only)."""
        if not self.page_starts:
            return None
        page = 0
        for index, start in enumerate(self.page_starts):
            if start <= offset:
                page = index
            else:
                break
        return page + 1


class Chunk(models.Model):
    """A passage of a document's text with its embedding and full-text vector."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="chunks"
    )
    # Denormalised so retrieval filters by workspace without a join.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    start_char = models.PositiveIntegerField()
    end_char = models.PositiveIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    heading = models.CharField(max_length=500, blank=True)
    # Text embedded with the chunk but not part of its slice (a CSV header), kept
    # so a re-embedding into a new space sees exactly what ingestion saw.
    context = models.TextField(blank=True, default="")
    # The document's normalised title (file name words, PDF title, first
    # heading): indexed and embedded with every chunk, never part of `text`.
    search_title = models.TextField(blank=True, default="")
    token_estimate = models.PositiveIntegerField()
    # What full-text search reads: where the chunk sits, then its own text.
    search_vector = models.GeneratedField(
        expression=SearchVector(
            "search_title", "heading", "context", "text", config="english"
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # BM25's document length: the tokens (lexeme positions) in search_vector.
    search_length = models.GeneratedField(
        expression=Func(
            SearchVector(
                "search_title", "heading", "context", "text", config="english"
            ),
            function="cairn_tsvector_tokens",
            output_field=models.IntegerField(),
        ),
        output_field=models.IntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "ordinal"], name="unique_chunk_ordinal"
            )
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


class LexemeStat(models.Model):
    """How many of a workspace's chunks hold a lexeme: BM25's document frequency.

    Kept by statement triggers on documents_chunk (migration 0006), so every
    way chunks come and go (COPY, bulk_create, re-ingestion, deletes) updates it
    in the same transaction; never written from Python.
    """

    pk = models.CompositePrimaryKey("workspace_id", "lexeme")
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    lexeme = models.TextField()
    df = models.IntegerField()

    def __str__(self) -> str:
        return f"{self.lexeme} in {self.df} chunks"


class TextStat(models.Model):
    """A workspace's chunk count and total tokens (BM25's N and average length).

    Kept by the same triggers as LexemeStat; its row is also the lock that
    orders concurrent chunk writes of one workspace (see the migration).
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    chunks = models.BigIntegerField(default=0)
    tokens = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.chunks} chunks, {self.tokens} tokens"


class EmbeddingSpace(models.Model):
    """One embedding model at one dimension; its vectors live in ChunkVector.

    Exactly one space is active (queries use it); a space being built gets
    vectors for every chunk in the background and becomes active in one
    transaction when it has them all; the old one is retired, then purged.
    """

    class Status(models.TextChoices):
        BUILDING = "building"
        ACTIVE = "active"
        RETIRED = "retired"

    name = models.CharField(max_length=120, unique=True)
    model = models.CharField(max_length=100)
    dimensions = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.BUILDING
    )
    created = models.DateTimeField(auto_now_add=True)
    activated = models.DateTimeField(null=True, blank=True)
    retired = models.DateTimeField(null=True, blank=True)
    # Set once the retired space's vectors and index are gone.
    purged = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="active"),
                name="one_active_embedding_space",
            ),
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="building"),
                name="one_building_embedding_space",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"

    @property
    def index_name(self) -> str:
        return f"chunkvector_space_{self.pk:d}_hnsw"


class ChunkVector(models.Model):
    """A chunk's vector in one embedding space.

    The column is an untyped `vector`: each space has its own width, and its
    own partial HNSW index on `(embedding::vector(N)) WHERE space_id = K`.
    Workspace and document are copied from the chunk so the dense query
    filters without a join. Rows go when their chunk does (ON DELETE CASCADE
    in the database, so deleting chunks never loads their vectors).
    """

    # The constraint (with ON DELETE CASCADE) is created by the migration.
    chunk = models.ForeignKey(
        Chunk, on_delete=models.DO_NOTHING, related_name="vectors", db_constraint=False
    )
    space = models.ForeignKey(
        EmbeddingSpace, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    workspace_id = models.BigIntegerField()
    document_id = models.UUIDField()
    embedding = VectorField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "chunk"], name="unique_chunk_vector_per_space"
            )
        ]

    def __str__(self) -> str:
        return f"chunk {self.chunk_id} in space {self.space_id}"


class ImageVector(models.Model):
    """An image's vector in a multimodal embedding space (documents.remote.multimodal).

    One per image document (or rendered PDF page, MULTIMODAL_EMBED_PDF_PAGES),
    tied to the chunk retrieval hands on when the image matches: the image's
    first chunk, or the first chunk on the page. `model` names the space; a
    workspace holds few images, so they are searched exactly, without an index.
    """

    # ON DELETE CASCADE in the database (the migration), as for ChunkVector:
    # replacing a document's chunks never loads their vectors.
    chunk = models.ForeignKey(
        Chunk, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    document_id = models.UUIDField()
    workspace_id = models.BigIntegerField()
    page = models.PositiveIntegerField(null=True, blank=True)
    model = models.CharField(max_length=100)
    embedding = VectorField()

    class Meta:
        indexes = [models.Index(fields=["workspace_id", "model"])]

    def __str__(self) -> str:
        return f"{self.model} vector of {self.document_id} page {self.page}"


class ApiToken(models.Model):
    """A personal API token; only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, default="cli")
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user} {self.prefix}…"


class RemoteFileTombstone(models.Model):
    """A remote file Cairn still owes a delete; kept until the Files API confirms."""

    file_id = models.CharField(max_length=100, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    next_attempt = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"delete {self.file_id} ({self.attempts} attempts)"


class IntranetSourceChange(models.Model):
    """One entry allowed or removed from a workspace's intranet sources: the audit."""

    class Action(models.TextChoices):
        ALLOWED = "allowed"
        REMOVED = "removed"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="intranet_changes"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Copied, so the record still names the person after the account is gone.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=Action.choices)
    entry = models.CharField(max_length=100)
    # Where the change was made: "web settings" or "admin".
    via = models.CharField(max_length=20)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.entry} in {self.workspace}"


class ServicePause(models.Model):
    """An outside service Cairn stops calling until `until` (e.g. storage full)."""

    service = models.CharField(max_length=40, unique=True)
    until = models.DateTimeField()
    reason = models.TextField()
    created = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.service} paused until {self.until:%Y-%m-%d %H:%M}"
