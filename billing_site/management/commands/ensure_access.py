import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from core.models import ApiToken


class Command(BaseCommand):
    help = "Create an admin user and an API token if none exist, and print them (used by make run)."

    def handle(self, *args, **options):
        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            username = os.environ.get("ADMIN_USERNAME", "admin")
            password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(
                f"Admin login:  {username} / {password}  (http://127.0.0.1:8000/admin/)"
            )
        else:
            self.stdout.write(
                "Admin login:  an admin user already exists (created by an earlier run)."
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
