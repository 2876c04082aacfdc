from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0004_merge_20261121_2203"),
    ]

    operations = [
        migrations.AlterField(
            model_name="citation",
            name="kind",
            field=models.CharField(
                choices=[
                    ("char_location", "Char"),
                    ("page_location", "Page"),
                    ("content_block_location", "Block"),
                    ("search_result_location", "Search Result"),
                ],
                max_length=30,
            ),
        ),
    ]
