"""Failure kinds, intranet sources and their audit, and what the list searches."""

import django.db.models.deletion
import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_embedding_spaces"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="failure_kind",
            field=models.CharField(blank=True, max_length=30),
        ),
        migrations.AddField(
            model_name="workspace",
            name="intranet_sources",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.CreateModel(
            name="IntranetSourceChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("username", models.CharField(max_length=150)),
                (
                    "action",
                    models.CharField(
                        choices=[("allowed", "Allowed"), ("removed", "Removed")],
                        max_length=10,
                    ),
                ),
                ("entry", models.CharField(max_length=100)),
                ("via", models.CharField(max_length=20)),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "workspace",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="intranet_changes",
                        to="documents.workspace",
                    ),
                ),
            ],
            options={"ordering": ["-created", "-id"]},
        ),
        migrations.AddField(
            model_name="document",
            name="search_text",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Upper(
                    django.db.models.functions.text.Concat(
                        "title",
                        models.Value(" "),
                        "original_name",
                        models.Value(" "),
                        "source_url",
                        output_field=models.TextField(),
                    )
                ),
                output_field=models.TextField(),
            ),
        ),
        migrations.AddIndex(
            model_name="document",
            index=models.Index(
                models.F("workspace"),
                django.db.models.functions.text.Lower("title"),
                name="document_title_lower",
            ),
        ),
    ]
