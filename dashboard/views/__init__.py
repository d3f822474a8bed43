"""Dashboard pages, one module per resource (project, fleet, accounts, wizard, settings)."""

from .project import healthz, home, project

__all__ = ["healthz", "home", "project"]
