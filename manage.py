#!/usr/bin/env python
import os
import sys

# Commands that talk to the broker or the cache (enqueue tasks, publish live updates, serve pages).
# Without REDIS_URL they start the embedded Redis for as long as they run, unless one already answers.
NEEDS_REDIS = {"runserver", "shell", "cleanup", "demo_setup"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from config import embedded_redis

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    server = None
    if command in NEEDS_REDIS and settings.EMBEDDED_REDIS:
        server = embedded_redis.start(settings.VAR_DIR)
    try:
        execute_from_command_line(sys.argv)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
