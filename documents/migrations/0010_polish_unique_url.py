"""One document per URL per workspace: store URLs normalised, resolve existing
duplicates, then add the unique constraint that makes concurrent adds safe.

Each URL document's source_url is rewritten in the form new adds store
(documents.web.documents.normalised_url, copied here as it stood). Of each group
with the same URL in one workspace, the document kept is the first ready one
(else the oldest); the others' citations move to it (chunk links cleared), their
remote files are owed a delete (tombstones), and they are deleted with their
chunks and snapshots. Each resolved group is printed.
"""

import contextlib
from urllib.parse import urlsplit, urlunsplit

from django.core.files.storage import default_storage
from django.db import migrations, models
from django.db.models import Count


def normalised_url(url):
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def resolve_duplicates(apps, schema_editor):
    Document = apps.get_model("documents", "Document")
    Tombstone = apps.get_model("documents", "RemoteFileTombstone")
    Citation = apps.get_model("search", "Citation")
    for document in Document.objects.exclude(source_url="").only("id", "source_url"):
        normal = normalised_url(document.source_url)
        if normal != document.source_url and len(normal) <= 250:
            Document.objects.filter(id=document.id).update(source_url=normal)
    groups = (
        Document.objects.exclude(source_url="")
        .values("workspace_id", "source_url")
        .annotate(copies=Count("id"))
        .filter(copies__gt=1)
    )
    for group in groups:
        documents = sorted(
            Document.objects.filter(
                workspace_id=group["workspace_id"], source_url=group["source_url"]
            ),
            key=lambda d: (d.status != "ready", d.created),
        )
        kept, duplicates = documents[0], documents[1:]
        # delete() clears the primary key: name them before.
        removed = ", ".join(str(d.id) for d in duplicates)
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
            if name and name != kept.original.name:
                with contextlib.suppress(OSError):
                    default_storage.delete(name)
        print(
            f"\n  documents: workspace {group['workspace_id']} had "
            f"{len(documents)} documents of {group['source_url'][:80]}; kept "
            f"{kept.id} ({kept.status}), removed {removed}",
            end="",
        )
    # Run the deferred foreign-key checks of these deletes now: PostgreSQL will
    # not build the index below while the table has pending trigger events.
    schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0009_merge_20261202_0628"),
        ("search", "0005_apis_search_result_citations"),
    ]

    operations = [
        migrations.RunPython(resolve_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source_url", ""), _negated=True),
                fields=("workspace", "source_url"),
                name="document_unique_url_per_workspace",
            ),
        ),
    ]
