from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("documents", "0005_embedding_spaces"),
    ]

    operations = [
        migrations.AddField(
            model_name="document",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="workspace",
            name="web_fetch_use_cache",
            field=models.BooleanField(default=True),
        ),
    ]
