"""One upload of the same bytes per workspace: resolve existing duplicates, then
add the unique constraint that makes concurrent uploads safe (issue 16).

Of each group of uploads with the same sha256 in one workspace, the document
kept is the first ready one (else the oldest). The others' citations move to it
(their chunk links cleared: the kept document has its own chunks), their remote
files are owed a delete (tombstones, drained by the periodic task), and they are
deleted with their chunks. Each resolved group is printed.
"""

from django.core.files.storage import default_storage
from django.db import migrations, models
from django.db.models import Count


def resolve_duplicates(apps, schema_editor):
    Document = apps.get_model("documents", "Document")
    Tombstone = apps.get_model("documents", "RemoteFileTombstone")
    Citation = apps.get_model("search", "Citation")
    groups = (
        Document.objects.filter(source_url="")
        .values("workspace_id", "sha256")
        .annotate(copies=Count("id"))
        .filter(copies__gt=1)
    )
    for group in groups:
        documents = sorted(
            Document.objects.filter(
                source_url="",
                workspace_id=group["workspace_id"],
                sha256=group["sha256"],
            ),
            key=lambda d: (d.status != "ready", d.created),
        )
        kept, duplicates = documents[0], documents[1:]
        for duplicate in duplicates:
            Citation.objects.filter(document_id=duplicate.id).update(
                document_id=kept.id, chunk_id=None
            )
            if duplicate.file_id and duplicate.file_id != kept.file_id:
                Tombstone.objects.get_or_create(
                    file_id=duplicate.file_id,
                    defaults={"reason": f"duplicate of {kept.id}"},
                )
            name = duplicate.original.name
            duplicate.delete()
            if name:
                try:
                    default_storage.delete(name)
                except OSError:
                    pass
        print(
            f"\n  documents: workspace {group['workspace_id']} had "
            f"{len(documents)} uploads of sha256 {group['sha256'][:12]}…; kept "
            f"{kept.id} ({kept.status}), removed "
            + ", ".join(str(d.id) for d in duplicates),
            end="",
        )
    # Run the deferred foreign-key checks of these deletes now: PostgreSQL will
    # not build the index below while the table has pending trigger events.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_embedding_spaces"),
        ("search", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(resolve_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source_url", "")),
                fields=("workspace", "sha256"),
                name="document_unique_upload_per_workspace",
            ),
        ),
    ]
