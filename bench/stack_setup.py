"""Set-up shared by the benchmarks that start a live stack."""

from __future__ import annotations

import atexit
import os
import uuid
from pathlib import Path


def setup_django(work: Path) -> None:
    """Configure Django on a throwaway database: a SQLite file in `work`, or, when DATABASE_URL names
    PostgreSQL, a fresh database next to the configured one. Children inherit the same settings."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{work / 'bench.sqlite3'}")
    os.environ["FLEETDECK_STORAGE_DIR"] = str(work / "storage")
    os.environ["FLEETDECK_QUEUE"] = f"bench-{uuid.uuid4().hex[:6]}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    os.environ["REDIS_URL"] = settings.REDIS_URL
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        import psycopg
        from django.db import connections

        name = f"fleetdeck_bench_{uuid.uuid4().hex[:6]}"
        base = settings.DATABASES["default"]
        # Connect to the maintenance database: the configured one need not exist.
        dsn = f"host={base['HOST']} port={base['PORT'] or 5432} user={base['USER']} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        settings.DATABASES["default"]["NAME"] = name
        connections.close_all()
        atexit.register(_drop_database, dsn, name)
        os.environ["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + name
    call_command("migrate", verbosity=0)


def bench_owner(slug: str) -> str:
    """A user who owns project `slug`, and an API token for them (call after setup_django)."""
    from django.contrib.auth import get_user_model

    from projects.models import ApiToken, Membership, Project, Role

    user = get_user_model().objects.create_user("bench")
    project = Project.objects.create(name=slug.title(), slug=slug, created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.OWNER)
    return ApiToken.issue(user, "bench")[1]


def _drop_database(dsn: str, name: str) -> None:
    """Drop the benchmark's database on exit: a bench run must not leave databases behind."""
    import psycopg
    from django.db import connections

    connections.close_all()
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error as exc:
        print(f"note: could not drop the benchmark database {name}: {exc}")
