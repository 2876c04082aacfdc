"""Cairn settings: every value comes from the environment (or an optional .env)."""

from __future__ import annotations

import ipaddress
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from project import embedded, queues
from project.env import (
    env_bool,
    env_float,
    env_int,
    env_networks,
    env_str,
    load_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# Tests never read a developer's .env: their outside APIs are the local fakes.
TESTING = "pytest" in sys.modules
if not TESTING and os.environ.get("CAIRN_SKIP_DOTENV") != "1":
    load_dotenv(BASE_DIR / ".env")


# Tests get their own PostgreSQL and Redis, so `make test` never touches `make run`.
VAR_DIR = Path(
    env_str("CAIRN_VAR_DIR") or BASE_DIR / ("var/test" if TESTING else "var")
).resolve()

DEBUG = env_bool("DEBUG", False)
_secret = env_str("SECRET_KEY")
if not _secret:
    # A stable per-install key, so sessions survive a restart of `make run`.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(get_random_secret_key(), encoding="utf-8")
        key_file.chmod(0o600)
    _secret = key_file.read_text(encoding="utf-8").strip()
SECRET_KEY = _secret
ALLOWED_HOSTS = [
    h.strip()
    for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in env_str("CSRF_TRUSTED_ORIGINS").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "documents",
    "search",
    "mcpserver",
]

MIDDLEWARE = [
    # First: every log line of the request, errors included, carries its id.
    "project.logs.RequestIdMiddleware",
    # Outermost but one: every error under /api/v1/ leaves as the API's JSON body.
    "project.api_errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Turns a login refused by the throttle into the lockout page.
    "axes.middleware.AxesMiddleware",
    # Last, so its process_exception sees a view's database outage first.
    "project.outage.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "documents.context_processors.cairn",
                "search.context_processors.claude_model",
            ],
        },
    },
]

# The database: DATABASE_URL in production, else the embedded PostgreSQL + pgvector.
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    DATABASE_URL = embedded.postgres_url(VAR_DIR / "pg")
# Seconds a web or worker process keeps its database connection between requests
# (0: one per request). Behind a pooler this is the connection to the pooler.
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60)
_db: dict[str, Any] = dict(
    dj_database_url.parse(DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE)
)
_db["CONN_HEALTH_CHECKS"] = True
# DATABASE_POOLER=transaction when DATABASE_URL points at a pooler in transaction
# mode (PgBouncer pool_mode=transaction): consecutive transactions of one
# connection may then run on different server connections, so nothing may rely
# on session state. Cairn's own code keeps none (SET LOCAL only, advisory locks
# held inside a transaction: documents/ingestion/locks.py); Django's server-side
# cursors (.iterator()) and psycopg's prepared statements are session state, so
# they are turned off here.
DATABASE_POOLER = env_str("DATABASE_POOLER").strip().lower()
if DATABASE_POOLER not in ("", "session", "transaction"):
    raise ImproperlyConfigured(
        "DATABASE_POOLER must be empty, session or transaction, "
        f"not {DATABASE_POOLER!r}"
    )
if DATABASE_POOLER == "transaction":
    _db["DISABLE_SERVER_SIDE_CURSORS"] = True
    _db["OPTIONS"] = {**_db.get("OPTIONS", {}), "prepare_threshold": None}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is refused for LOGIN_COOLOFF_MINUTES, on
# /login/ and the admin alike; a successful login clears the count. The pair, not
# the username alone, so nobody can lock a colleague out from elsewhere. The address
# is REMOTE_ADDR, unless the connection comes from a trusted proxy
# (CAIRN_TRUSTED_PROXIES; with CAIRN_TLS_PROXY=1 and none named, loopback): then it
# is the nearest X-Forwarded-For hop no trusted proxy wrote (project.lockout), so a
# client can neither forge fresh attempts nor share the proxy's one address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "project.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "project.lockout.client_ip"
CAIRN_TLS_PROXY = env_bool("CAIRN_TLS_PROXY", False)
TRUSTED_PROXIES = env_networks(
    "CAIRN_TRUSTED_PROXIES", ["127.0.0.1/32", "::1/128"] if CAIRN_TLS_PROXY else []
)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "documents:list"
LOGOUT_REDIRECT_URL = "login"

# HTTPS. CAIRN_HTTPS=1 when browsers reach Cairn over HTTPS: cookies are Secure
# and plain HTTP is redirected. CAIRN_TLS_PROXY=1 only behind a proxy that ends
# TLS and always sets X-Forwarded-Proto (a client could forge it otherwise).
# Production values: README's checklist (check --deploy is clean with them).
CAIRN_HTTPS = env_bool("CAIRN_HTTPS", False)
SESSION_COOKIE_SECURE = CAIRN_HTTPS
CSRF_COOKIE_SECURE = CAIRN_HTTPS
SECURE_SSL_REDIRECT = CAIRN_HTTPS
# A load balancer's health probe, and Prometheus scraping an instance on its
# internal address, may speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
if CAIRN_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# 0 locally: a browser remembers HSTS for this long, even for localhost.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): no inline script or style, no outside
# origin; page scripts live in static/js/ and handlers are bound there.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 50)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# The queue: CELERY_BROKER_URL in production, else the embedded redis-server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
EMBEDDED_BROKER = not CELERY_BROKER_URL
if EMBEDDED_BROKER:
    CELERY_BROKER_URL = embedded.redis_url(VAR_DIR)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("INGEST_TIME_LIMIT_S", 1800)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, 30)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Extraction and outside-API calls wait in separate queues (project/queues.py).
CPU_QUEUE = queues.CPU_QUEUE
IO_QUEUE = queues.IO_QUEUE
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT_QUEUE
CELERY_TASK_ROUTES = {
    "documents.tasks.ingest_task": {"queue": CPU_QUEUE},
    "documents.tasks.ingest_index_task": {"queue": IO_QUEUE},
    "documents.tasks.drain_tombstones_task": {"queue": IO_QUEUE},
    "documents.tasks.files_reconcile_task": {"queue": IO_QUEUE},
    "documents.tasks.embeddings_build_task": {"queue": IO_QUEUE},
}
CELERY_QUEUES_ALL = queues.ALL_QUEUES
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# The longest countdown before a task's retry (retry_backoff_max in documents/tasks.py).
TASK_RETRY_BACKOFF_MAX_S = 300
# Tasks are acknowledged when they end (acks_late), so the message of a worker that
# died stays reserved in Redis until this visibility timeout and then goes back to
# its queue. It must outlast the longest task (the hard time limit) and the longest
# retry countdown (a worker holds a countdown's message unacknowledged), or a slow
# task would be handed to a second worker while the first still runs it.
REDELIVERY_AFTER_S = CELERY_TASK_TIME_LIMIT + TASK_RETRY_BACKOFF_MAX_S + 60
# A publish must fail fast when the broker is down, so an upload is never held
# hostage by the queue; the sweeper re-queues what could not be sent.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 2,
    "interval_start": 0.2,
    "visibility_timeout": REDELIVERY_AFTER_S,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2}
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-documents": {
        "task": "documents.tasks.requeue_stale_task",
        "schedule": float(env_int("REQUEUE_STALE_EVERY_S", 30)),
    },
    "drain-remote-file-tombstones": {
        "task": "documents.tasks.drain_tombstones_task",
        "schedule": 300.0,
    },
    # Re-uploads files expiring within a day (FILES_API_EXPIRES_IN_S); a no-op
    # when uploads never expire.
    "files-refresh-expiring": {
        "task": "documents.tasks.files_refresh_expiring_task",
        "schedule": 3600.0,
    },
    "files-reconcile-report": {
        "task": "documents.tasks.files_reconcile_task",
        "schedule": float(env_int("FILES_RECONCILE_EVERY_S", 3600)),
    },
    # Starts (or resumes) re-embedding when EMBEDDING_MODEL/DIMENSIONS change,
    # and purges retired spaces.
    "embeddings-reconcile": {
        "task": "documents.tasks.embeddings_reconcile_task",
        "schedule": 60.0,
    },
}
# The sweep (documents/sweeper.py) does not wait REDELIVERY_AFTER_S: a document
# queued, or processing with no worker holding its lock, that has not moved for this
# long is sent again (TASK_RETRY_BACKOFF_MAX_S more while it waits for a retry).
STALE_DOCUMENT_S = env_int("STALE_DOCUMENT_S", 90)

# Outside APIs. Without keys Cairn runs offline (extractive answers, offline embedder).
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL") or None
# The current Sonnet (the SDK's model list, anthropic 2.15.0; the models overview
# names Claude Sonnet 5.5 the current Sonnet). A retired or unknown model fails
# the start-up check; a deprecated one warns (search/checks.py).
CLAUDE_MODEL = env_str("CLAUDE_MODEL", "claude-sonnet-5-5")
CLAUDE_MAX_TOKENS = env_int("CLAUDE_MAX_TOKENS", 1024)
# Lifetime of the cached documents prefix: "5m" (writes cost 1.25x input) or "1h"
# (2x, worth it when questions about the same documents come less often).
CLAUDE_CACHE_TTL = env_str("CLAUDE_CACHE_TTL", "5m")
if CLAUDE_CACHE_TTL not in ("5m", "1h"):
    raise ImproperlyConfigured(
        f"CLAUDE_CACHE_TTL must be 5m or 1h, not {CLAUDE_CACHE_TTL!r}"
    )
VOYAGE_API_KEY = env_str("VOYAGE_API_KEY")
VOYAGE_BASE_URL = env_str("VOYAGE_BASE_URL") or None
# The desired embedding space: model (Voyage; offline-lexical-v2 without a key) and
# width. Changing either re-embeds every chunk in the background (documents/spaces.py).
# voyage-4 is the general-purpose model of Voyage's text embeddings page
# (docs.voyageai.com/docs/embeddings); voyage-context-3 and voyage-context-4 embed
# each document's chunks together (contextualized chunk embeddings).
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "voyage-4")
EMBEDDING_DIMENSIONS = env_int("EMBEDDING_DIMENSIONS", 1024)
# Chunks per re-embedding batch, seconds per build task before it re-queues
# itself, and how long a retired space's vectors stay for queries in flight.
EMBEDDING_BUILD_BATCH = env_int("EMBEDDING_BUILD_BATCH", 256)
EMBEDDING_BUILD_SLICE_S = env_int("EMBEDDING_BUILD_SLICE_S", 120)
EMBEDDING_RETIRED_KEEP_MINUTES = env_int("EMBEDDING_RETIRED_KEEP_MINUTES", 10)
API_MAX_RETRIES = env_int("API_MAX_RETRIES", 3)
# The Files API reconcile leaves remote files younger than this alone: an
# ingestion may have uploaded one and not yet saved its id.
FILES_ORPHAN_GRACE_MINUTES = env_int("FILES_ORPHAN_GRACE_MINUTES", 60)

# US dollars per million tokens, for the usage page's estimated cost (search/usage.py).
# Cache writes have two prices (platform.claude.com/docs/en/about-claude/pricing):
# "cache_write" for the 5-minute TTL (1.25x input) and "cache_write_1h" for the
# 1-hour TTL (2x input); Claude's usage splits the writes by TTL. A model missing
# here is costed at zero and flagged as unpriced.
CLAUDE_PRICES: dict[str, dict[str, str]] = {
    "claude-sonnet-5-5": {
        "input": "2", "output": "10", "cache_read": "0.20", "cache_write": "2.50",
        "cache_write_1h": "4",
    },
    "claude-sonnet-5": {
        "input": "2", "output": "10", "cache_read": "0.20", "cache_write": "2.50",
        "cache_write_1h": "4",
    },
    "claude-opus-4-5": {
        "input": "5", "output": "25", "cache_read": "0.50", "cache_write": "6.25",
        "cache_write_1h": "10",
    },
    "claude-sonnet-4-6": {
        "input": "3", "output": "15", "cache_read": "0.30", "cache_write": "3.75",
        "cache_write_1h": "6",
    },
    "claude-sonnet-4-5": {
        "input": "3", "output": "15", "cache_read": "0.30", "cache_write": "3.75",
        "cache_write_1h": "6",
    },
    "claude-haiku-4-5": {
        "input": "1", "output": "5", "cache_read": "0.10", "cache_write": "1.25",
        "cache_write_1h": "2",
    },
}  # fmt: skip

# Voyage: batches in flight at once per document, and retries of 429/5xx.
EMBED_CONCURRENCY = env_int("EMBED_CONCURRENCY", 4)
EMBED_MAX_RETRIES = env_int("EMBED_MAX_RETRIES", 5)
EMBED_BACKOFF_S = float(env_str("EMBED_BACKOFF_S", "1.0"))
# Files API calls: one limit shared by every worker (in the broker's Redis), and
# Cairn's own retries of 429/5xx with exponential backoff and jitter.
FILES_API_RATE_PER_MINUTE = env_int("FILES_API_RATE_PER_MINUTE", 90)
FILES_API_MAX_RETRIES = env_int("FILES_API_MAX_RETRIES", 5)
FILES_API_BACKOFF_S = float(env_str("FILES_API_BACKOFF_S", "1.0"))
FILES_API_BACKOFF_MAX_S = float(env_str("FILES_API_BACKOFF_MAX_S", "60"))
# After a storage-full refusal, uploads pause this long (or until reconcile frees).
FILES_API_PAUSE_MINUTES = env_int("FILES_API_PAUSE_MINUTES", 60)
# Lifetime of an uploaded file (expires_in_seconds: one hour to ninety days);
# unset, files never expire. An expired file is re-uploaded from the kept
# original when a question needs it, and refreshed a day ahead by a beat task.
FILES_API_EXPIRES_IN_S: int | None = None
if env_str("FILES_API_EXPIRES_IN_S"):
    FILES_API_EXPIRES_IN_S = env_int("FILES_API_EXPIRES_IN_S", 0)
    if not 3600 <= FILES_API_EXPIRES_IN_S <= 7_776_000:
        raise ImproperlyConfigured(
            "FILES_API_EXPIRES_IN_S must be between 3600 (one hour) and "
            f"7776000 (ninety days), not {FILES_API_EXPIRES_IN_S}"
        )

# Bounded work per document (documents/ingestion/bounds.py): extraction runs in
# a child process limited to EXTRACT_MEMORY_MB of address space and
# EXTRACT_TIME_LIMIT_S seconds, and each format checks its own limits before
# parsing, so a hostile file fails its own document and nothing else.
# Address space bounds resident memory, so the child never passes 480 MB.
EXTRACT_MEMORY_MB = env_int("EXTRACT_MEMORY_MB", 480)
EXTRACT_TIME_LIMIT_S = env_int("EXTRACT_TIME_LIMIT_S", 300)
EXTRACT_MAX_CHARS = env_int("EXTRACT_MAX_CHARS", 60_000_000)
PDF_MAX_PAGES = env_int("PDF_MAX_PAGES", 2000)
PDF_MAX_PAGE_CHARS = env_int("PDF_MAX_PAGE_CHARS", 200_000)
PDF_MAX_STREAM_MB = env_int("PDF_MAX_STREAM_MB", 32)
DOCX_MAX_INFLATED_MB = env_int("DOCX_MAX_INFLATED_MB", 256)
DOCX_MAX_XML_MB = env_int("DOCX_MAX_XML_MB", 32)
DOCX_MAX_XML_DEPTH = env_int("DOCX_MAX_XML_DEPTH", 128)
HTML_MAX_DEPTH = env_int("HTML_MAX_DEPTH", 512)
# Spreadsheets (.xlsx): rows of all sheets, and cells of the area they span.
XLSX_MAX_ROWS = env_int("XLSX_MAX_ROWS", 100_000)
XLSX_MAX_CELLS = env_int("XLSX_MAX_CELLS", 2_000_000)
# The citation panel's page images: at most this many pixels, cached as PNG.
PAGE_IMAGE_MAX_PIXELS = env_int("PAGE_IMAGE_MAX_PIXELS", 4_000_000)
# Image documents (PNG, JPEG, GIF, WebP): at most this many pixels (width x
# height, read from the header before decoding: more is a decompression bomb);
# their thumbnail is at most THUMBNAIL_PX pixels a side (as area), cached as PNG.
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 40_000_000)
THUMBNAIL_PX = env_int("THUMBNAIL_PX", 320)
# OCR (documents/ingestion/ocr.py, rapidocr on ONNX Runtime, offline): image
# documents, and PDF pages whose text layer has fewer than OCR_MIN_PAGE_CHARS
# characters, rendered at OCR_DPI. ONNX Runtime runs on OCR_THREADS threads, and
# the extraction child may grow to OCR_MEMORY_MB of address space and
# OCR_TIME_LIMIT_S CPU seconds once it OCRs (measured in bench/ocr.md).
OCR_ENABLED = env_bool("OCR_ENABLED", True)
OCR_MIN_PAGE_CHARS = env_int("OCR_MIN_PAGE_CHARS", 20)
OCR_DPI = env_int("OCR_DPI", 200)
OCR_THREADS = env_int("OCR_THREADS", 1)
OCR_MEMORY_MB = env_int("OCR_MEMORY_MB", 1536)
OCR_TIME_LIMIT_S = env_int("OCR_TIME_LIMIT_S", 1800)
if not 1 <= OCR_THREADS <= 4:
    raise ImproperlyConfigured(f"OCR_THREADS must be 1 to 4, not {OCR_THREADS}")
# More passages than this fail the document: each one costs an embedding.
MAX_CHUNKS_PER_DOCUMENT = env_int("MAX_CHUNKS_PER_DOCUMENT", 50_000)
CHUNK_TOKENS = env_int("CHUNK_TOKENS", 350)
CHUNK_OVERLAP_TOKENS = env_int("CHUNK_OVERLAP_TOKENS", 40)
SEARCH_TOP_K = env_int("SEARCH_TOP_K", 8)
ANSWER_MAX_DOCUMENTS = env_int("ANSWER_MAX_DOCUMENTS", 5)

# Fetching URLs into the knowledge base (documents/web_sources.py).
WEB_FETCH_MAX_MB = env_int("WEB_FETCH_MAX_MB", 20)
WEB_FETCH_TIMEOUT_S = env_int("WEB_FETCH_TIMEOUT_S", 20)
WEB_FETCH_MAX_REDIRECTS = env_int("WEB_FETCH_MAX_REDIRECTS", 5)
# Off in production: only tests turn it on, to fetch from a loopback test server.
WEB_ALLOW_PRIVATE_ADDRESSES = env_bool("WEB_ALLOW_PRIVATE_ADDRESSES", False)
# Extra CA bundle for HTTPS fetches (a corporate CA); the system's store otherwise.
WEB_FETCH_CA_FILE = env_str("WEB_FETCH_CA_FILE")
# Host names exempt from the address check (tests only; never read from the env).
WEB_PRIVATE_HOSTS: list[str] = []

# Retrieval: reciprocal rank fusion of dense (HNSW) and full-text rankings.
# RRF k, the weights, the candidates and BM25's k1 and b were chosen on the even
# SciFact test queries and checked on the odd ones (`python -m bench tuning`):
# hybrid nDCG@10 0.709 dev / 0.673 held out, against 0.681 / 0.625 with the
# old k=60, equal weights and 50 candidates.
SEARCH_RRF_K = env_int("SEARCH_RRF_K", 10)
SEARCH_DENSE_WEIGHT = env_float("SEARCH_DENSE_WEIGHT", 0.5)
SEARCH_TEXT_WEIGHT = env_float("SEARCH_TEXT_WEIGHT", 1.0)
# How many candidates each ranking contributes to the fusion (and to the reranker).
SEARCH_CANDIDATES = env_int("SEARCH_CANDIDATES", 20)
# HNSW candidate list (at least twice the rows asked for); iterative scans extend
# it when a filter drops rows.
SEARCH_EF_SEARCH = env_int("SEARCH_EF_SEARCH", 100)
# Full-text ranking is BM25 over the workspace's own statistics (k1, b).
SEARCH_BM25_K1 = env_float("SEARCH_BM25_K1", 0.6)
SEARCH_BM25_B = env_float("SEARCH_BM25_B", 0.75)
# At most this many chunks are scored per full-text query: the rarest query
# terms whose document frequencies fit in it pick the candidates, the others
# only add to their scores, so cost never grows with a common word's chunks.
# 1000: on the FinanceBench corpus queries (dev half, 54k chunks) its top 10
# shares 0.885 with exact BM25 at p95 104 ms, against 0.945 at 163 ms for 2000
# (`python -m bench retrieval-corpus --keep --budgets ...`); SciFact is flat.
SEARCH_TEXT_BUDGET = env_int("SEARCH_TEXT_BUDGET", 1000)
# A third ranking for the fusion: full text within the documents whose titles
# best match the question (the company and year it names), with this weight.
# Chosen on the development half of queries made from the FinanceBench filings
# (`bench retrieval-corpus --titled`: 1 document, weight 1.0; 2 or 3 documents
# and weights 0.5 and 2.0 did no better), checked on the held-out half.
SEARCH_TITLE_DOCUMENTS = env_int("SEARCH_TITLE_DOCUMENTS", 1)
SEARCH_TITLE_WEIGHT = env_float("SEARCH_TITLE_WEIGHT", 1.0)
# With VOYAGE_API_KEY, image documents (and, with MULTIMODAL_EMBED_PDF_PAGES,
# every rendered PDF page) are embedded with this multimodal model in a space of
# their own, searched beside the text space and fused with SEARCH_IMAGE_WEIGHT;
# "" turns it off.
MULTIMODAL_EMBEDDING_MODEL = env_str(
    "MULTIMODAL_EMBEDDING_MODEL", "voyage-multimodal-3.5"
)
MULTIMODAL_EMBED_PDF_PAGES = env_bool("MULTIMODAL_EMBED_PDF_PAGES", False)
# Pixels of the image sent to the multimodal model (Voyage counts ~560 a token).
MULTIMODAL_MAX_PIXELS = env_int("MULTIMODAL_MAX_PIXELS", 1_000_000)
SEARCH_IMAGE_WEIGHT = env_float("SEARCH_IMAGE_WEIGHT", 0.5)
# Voyage rerank over the fused candidates, when VOYAGE_API_KEY is set; "" turns it off.
RERANK_MODEL = env_str("RERANK_MODEL", "rerank-2.5")

# The Claude request: documents are sent whole while their estimated tokens fit
# this budget, otherwise only the retrieved chunks are sent.
ANSWER_CONTEXT_BUDGET_TOKENS = env_int("ANSWER_CONTEXT_BUDGET_TOKENS", 60_000)
# Earlier turns of a conversation carried into a follow-up request.
CONVERSATION_MAX_TURNS = env_int("CONVERSATION_MAX_TURNS", 6)

# Metrics: GET /metrics (Prometheus text) answers a bearer METRICS_TOKEN, or
# any address in METRICS_ALLOWED_IPS (addresses or CIDR networks, comma
# separated); with neither set it is a 404. METRICS_DIR holds the multiprocess
# counters of every process on this machine (project.run points each tier's
# PROMETHEUS_MULTIPROC_DIR at a folder of its own inside it).
METRICS_TOKEN = env_str("METRICS_TOKEN")
try:
    METRICS_ALLOWED_IPS = [
        ipaddress.ip_network(a.strip(), strict=False)
        for a in env_str("METRICS_ALLOWED_IPS").split(",")
        if a.strip()
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {exc}") from exc
# Documents by status and workspace (one series per workspace and status).
METRICS_PER_WORKSPACE = env_bool("METRICS_PER_WORKSPACE", False)
METRICS_DIR = Path(env_str("METRICS_DIR") or VAR_DIR / "metrics")

# Logs: "plain" lines, or "json": one object a line with time, level, logger,
# message, request_id (web) and document_id (ingestion).
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "project.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
