import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve on 127.0.0.1:8000 with the django-q2 worker beside it; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        manage = [sys.executable, "manage.py"]
        children = [
            subprocess.Popen([*manage, "qcluster"]),
            subprocess.Popen([*manage, "runserver", addr, "--noreload"]),
        ]
        self.stdout.write(f"Serving on http://{addr}/ (admin at /admin/, API docs at /api/docs/)")
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        # Installed explicitly: a shell may start us with SIGINT ignored (background jobs).
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        self.stdout.write("Stopping the web server and the worker...")
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
