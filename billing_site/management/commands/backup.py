from django.core.management.base import BaseCommand, CommandError

from billing_site.backups import BackupError, database_backup


class Command(BaseCommand):
    help = (
        "Write a backup of the whole database to PATH while the product runs: SQLite's online "
        "backup API (the WAL included) or pg_dump's custom format. Restore with `restore PATH`."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the backup file to write (replaced once complete)")
        parser.add_argument("--database", default="default")

    def handle(self, *args, **options):
        try:
            kind = database_backup(options["path"], using=options["database"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Backed up the {kind} database to {options['path']}.")
