"""Start (or finish) a switch to the configured embedding model and dimensions."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from documents.ingestion import spaces


class Command(BaseCommand):
    help = (
        "Compare EMBEDDING_MODEL/EMBEDDING_DIMENSIONS with the active embedding "
        "space; if they differ, create the new space and queue its re-embedding "
        "(search keeps using the active space until it is complete). --now builds "
        "it in this process instead of on a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = spaces.spaces_reconcile(enqueue=not options["now"])
        self.stdout.write(f"active {summary['active']}, desired {summary['desired']}")
        building = spaces.building_space()
        if building is None:
            self.stdout.write("nothing to build")
            return
        if not options["now"]:
            self.stdout.write(f"building {building.name} on a worker")
            return
        started = time.monotonic()
        while (state := spaces.space_build(space_id=building.pk).state) != "active":
            if state == "gone":
                raise CommandError(f"{building.name} was retired mid-build")
            if state == "busy":
                # A worker is building it already: wait for that build.
                time.sleep(2)
            done, total = spaces.space_progress(building)
            self.stdout.write(f"{building.name}: {done}/{total} chunks")
        elapsed = time.monotonic() - started
        self.stdout.write(f"{building.name}: active after {elapsed:.1f} s")
