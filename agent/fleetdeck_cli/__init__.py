"""`fleetdeck`: the command-line client of the Fleetdeck REST API, for terminals and CI pipelines.

It ships beside the agent (Python 3.9+, PyYAML only, urllib for HTTP) and reuses the agent's
appspec and bundle checks, so `push` refuses exactly what the server and the hosts would refuse,
before anything is uploaded.
"""

from fleetdeck_agent import __version__

__all__ = ["__version__"]
