"""BM25 statistics kept by triggers, and chunks that carry their document's title.

Chunks gain `search_title` (indexed with the heading path and table header,
never part of `text`) and `search_length` (tokens, BM25's document length).
`documents_lexemestat` and `documents_textstat` hold each workspace's document
frequencies, chunk count and total tokens; statement-level triggers with
transition tables keep them in the same transaction as every chunk write.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models

TOKENS_FUNCTION = """
CREATE OR REPLACE FUNCTION cairn_tsvector_tokens(tsvector) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $$
    SELECT coalesce(sum(coalesce(cardinality(positions), 1)), 0)::integer
    FROM unnest($1)
$$
"""


def _add(rows: str) -> str:
    """Add one statement's chunks (sign +1, or a net delta) to the statistics.

    The workspace's totals row is written first: its row lock, held to the end
    of the transaction, makes concurrent writers of one workspace take their
    turn before touching any lexeme row, so two re-ingestions (a delete and an
    insert each) can never deadlock on lexemes locked in opposite orders.
    """
    return f"""
    INSERT INTO documents_textstat AS t (workspace_id, chunks, tokens)
    SELECT r.workspace_id, sum(r.sign), sum(r.sign * r.search_length)
    FROM ({rows}) r GROUP BY r.workspace_id ORDER BY r.workspace_id
    ON CONFLICT (workspace_id) DO UPDATE
    SET chunks = t.chunks + EXCLUDED.chunks, tokens = t.tokens + EXCLUDED.tokens;

    INSERT INTO documents_lexemestat AS s (workspace_id, lexeme, df)
    SELECT r.workspace_id, l.lexeme, sum(r.sign)
    FROM ({rows}) r, unnest(tsvector_to_array(r.search_vector)) AS l(lexeme)
    GROUP BY r.workspace_id, l.lexeme HAVING sum(r.sign) <> 0
    ORDER BY r.workspace_id, l.lexeme
    ON CONFLICT (workspace_id, lexeme) DO UPDATE SET df = s.df + EXCLUDED.df;
    """


# Removing only updates rows that exist: when a workspace is deleted, Django
# may delete its statistics before its chunks, and they must not come back.
_REMOVE = """
    UPDATE documents_textstat t
    SET chunks = t.chunks - d.chunks, tokens = t.tokens - d.tokens
    FROM (SELECT workspace_id, count(*) AS chunks, sum(search_length) AS tokens
          FROM old_rows GROUP BY workspace_id) d
    WHERE t.workspace_id = d.workspace_id;

    UPDATE documents_lexemestat s SET df = s.df - d.df
    FROM (SELECT o.workspace_id, l.lexeme, count(*) AS df FROM old_rows o,
          unnest(tsvector_to_array(o.search_vector)) AS l(lexeme)
          GROUP BY o.workspace_id, l.lexeme) d
    WHERE s.workspace_id = d.workspace_id AND s.lexeme = d.lexeme;
"""


_NEW = "SELECT workspace_id, search_vector, search_length, 1 AS sign FROM new_rows"
_OLD = "SELECT workspace_id, search_vector, search_length, -1 AS sign FROM old_rows"
_DROP_EMPTY = """
    DELETE FROM documents_lexemestat s
    USING (SELECT DISTINCT o.workspace_id, l.lexeme FROM old_rows o,
           unnest(tsvector_to_array(o.search_vector)) AS l(lexeme)) gone
    WHERE s.workspace_id = gone.workspace_id AND s.lexeme = gone.lexeme
      AND s.df <= 0;
"""

STATS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION cairn_chunk_stats() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_add(_NEW)}
    ELSIF TG_OP = 'DELETE' THEN
        {_REMOVE}
        {_DROP_EMPTY}
    ELSE
        {_add(_NEW + " UNION ALL " + _OLD)}
        {_DROP_EMPTY}
    END IF;
    RETURN NULL;
END
$fn$
"""

TRIGGERS = """
CREATE TRIGGER chunk_stats_insert AFTER INSERT ON documents_chunk
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION cairn_chunk_stats();
CREATE TRIGGER chunk_stats_delete AFTER DELETE ON documents_chunk
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION cairn_chunk_stats();
CREATE TRIGGER chunk_stats_update AFTER UPDATE ON documents_chunk
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION cairn_chunk_stats();
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS chunk_stats_insert ON documents_chunk;
DROP TRIGGER IF EXISTS chunk_stats_delete ON documents_chunk;
DROP TRIGGER IF EXISTS chunk_stats_update ON documents_chunk;
DROP FUNCTION IF EXISTS cairn_chunk_stats();
"""

# The statistics of chunks stored before the triggers existed.
BACKFILL = """
INSERT INTO documents_textstat (workspace_id, chunks, tokens)
SELECT workspace_id, count(*), sum(search_length) FROM documents_chunk
GROUP BY workspace_id;
INSERT INTO documents_lexemestat (workspace_id, lexeme, df)
SELECT c.workspace_id, l.lexeme, count(*)
FROM documents_chunk c, unnest(tsvector_to_array(c.search_vector)) AS l(lexeme)
GROUP BY c.workspace_id, l.lexeme;
"""


def search_titles(apps, schema_editor):
    """Existing chunks get their document's normalised title."""
    from documents.ingestion.titles import search_title

    Document = apps.get_model("documents", "Document")
    Chunk = apps.get_model("documents", "Chunk")
    for document in Document.objects.only("id", "title", "text").iterator():
        title = search_title(title=document.title, text=document.text)
        Document.objects.filter(id=document.id).update(search_title=title)
        Chunk.objects.filter(document_id=document.id).update(search_title=title)


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_embedding_spaces"),
    ]

    operations = [
        migrations.RunSQL(TOKENS_FUNCTION, "DROP FUNCTION cairn_tsvector_tokens"),
        migrations.AddField(
            model_name="document",
            name="search_title",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="chunk",
            name="search_title",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(search_titles, migrations.RunPython.noop),
        # A generated column cannot be altered: drop it and add the new one.
        migrations.RemoveIndex(model_name="chunk", name="chunk_search_vector_gin"),
        migrations.RemoveField(model_name="chunk", name="search_vector"),
        migrations.AddField(
            model_name="chunk",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector(
                    "search_title", "heading", "context", "text", config="english"
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="chunk",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="chunk_search_vector_gin"
            ),
        ),
        migrations.AddField(
            model_name="chunk",
            name="search_length",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Func(
                    django.contrib.postgres.search.SearchVector(
                        "search_title", "heading", "context", "text", config="english"
                    ),
                    function="cairn_tsvector_tokens",
                    output_field=models.IntegerField(),
                ),
                output_field=models.IntegerField(),
            ),
        ),
        migrations.CreateModel(
            name="TextStat",
            fields=[
                (
                    "workspace",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="documents.workspace",
                    ),
                ),
                ("chunks", models.BigIntegerField(default=0)),
                ("tokens", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="LexemeStat",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "workspace_id",
                        "lexeme",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("lexeme", models.TextField()),
                ("df", models.IntegerField()),
                (
                    "workspace",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="documents.workspace",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RunSQL(STATS_FUNCTION + ";" + TRIGGERS, DROP_TRIGGERS),
    ]
