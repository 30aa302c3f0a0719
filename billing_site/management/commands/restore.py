from django.core.management.base import BaseCommand, CommandError

from billing_site.backups import BackupError, events_path, restore


class Command(BaseCommand):
    help = (
        "Replace every row of the database with the backup at PATH (made by `backup`), and with a "
        "ClickHouse event store its tables with PATH.events/. Stop the web and worker processes "
        "first; run `migrate` afterwards if the code is newer."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a file written by `manage.py backup`")
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="do not ask for confirmation",
        )

    def handle(self, *args, **options):
        if options["interactive"]:
            answer = input(
                "This replaces everything in the database with the backup. Type 'yes' to go on: "
            )
            if answer != "yes":
                raise CommandError("Restore cancelled.")
        try:
            kind, tables = restore(options["path"], using=options["database"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Restored the {kind} database from {options['path']}.")
        if tables:
            self.stdout.write(
                f"Restored the event store's tables ({', '.join(tables)}) "
                f"from {events_path(options['path'])}."
            )
