from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from core.models import ApiToken
from core.services import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token and print it once; only its hash is stored. "
        "--scope ingest (only POST /v1/ingest), read, or full (the default)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the token is for, e.g. 'ingest-prod'.")
        parser.add_argument(
            "--scope",
            choices=[choice.value for choice in ApiToken.Scope],
            default=ApiToken.Scope.FULL,
            help="ingest: only POST /v1/ingest; read: every read; full: everything (default).",
        )
        parser.add_argument(
            "--expires-at",
            default=None,
            help="Optional RFC 3339 moment the token stops working, e.g. 2027-01-01T00:00:00Z.",
        )

    def handle(self, *args, name: str, scope: str, expires_at: str | None, **options):
        moment = None
        if expires_at:
            moment = parse_datetime(expires_at)
            if moment is None or moment.tzinfo is None:
                raise CommandError("--expires-at must be an RFC 3339 moment with its offset (Z).")
        _, raw = api_token_create(
            name=name, scope=scope, expires_at=moment, created_by="manage.py create_api_token"
        )
        self.stdout.write(raw)
