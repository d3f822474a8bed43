"""Dashboard pages, one module per resource (project, fleet, accounts, wizard, settings)."""

from .project import favicon, healthz, home, project

__all__ = ["favicon", "healthz", "home", "project"]
