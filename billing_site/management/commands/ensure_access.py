import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from core.models import ApiToken


class Command(BaseCommand):
    help = "Create an admin user and an API token if none exist, and print them (used by make run)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="The port `serve` listens on.")

    def handle(self, *args, port: int = 8000, **options):
        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            username = os.environ.get("ADMIN_USERNAME", "admin")
            password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(
                f"Admin login:  {username} / {password}  (http://127.0.0.1:{port}/admin/)"
            )
        else:
            self.stdout.write(
                "Admin login:  an admin user already exists (created by an earlier run); "
                "reset its password with: .venv/bin/python manage.py changepassword admin"
            )
        if not ApiToken.objects.filter(revoked_at__isnull=True).exists():
            _, raw = ApiToken.generate(name="make-run")
            self.stdout.write(f"API token:    {raw}")
            self.stdout.write(
                "              (shown once; create more with: manage.py create_api_token NAME)"
            )
        else:
            self.stdout.write(
                "API token:    one exists already; create a new one with "
                ".venv/bin/python manage.py create_api_token NAME"
            )
