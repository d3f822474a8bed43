"""The ASGI application uvicorn serves.

Every middleware is async-capable, so the agent API's async views (long polls, completions) run on
the event loop instead of a thread each. Static files are served by Django's ASGI static handler
wrapped around the app; behind a TLS proxy, let the proxy serve /static/ from STATIC_ROOT instead.
"""

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = ASGIStaticFilesHandler(get_asgi_application())

# After Django is set up: the start-up warnings; the agent API, which skips the middleware stack
# (see deployments/agent_api/asgi.py); everything else reads request bodies only up to the bundle limit
# (see deployments/upload_limit.py).
from dashboard.checks import log_startup_warnings  # noqa: E402
from deployments.agent_api.asgi import AgentASGIHandler, route  # noqa: E402
from deployments.upload_limit import limit_request_body  # noqa: E402

application = route(AgentASGIHandler(), limit_request_body(django_application))
log_startup_warnings()
