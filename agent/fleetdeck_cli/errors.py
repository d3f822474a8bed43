"""Exit codes and the one exception type every command raises for an expected failure.

The codes are part of the CLI's interface (CI pipelines branch on them); docs/cli.md lists them.
"""

from __future__ import annotations

OK = 0
ERROR = 1  # the server refused the request or failed; a plan that cannot run
USAGE = 2  # bad arguments, missing configuration, an invalid bundle (nothing was uploaded)
FAILED = 3  # the deployment ended Failed
STOPPED = 4  # the deployment ended Stopped
TIMEOUT = 5  # --timeout passed before the deployment ended
NETWORK = 6  # the server could not be reached
AUTH = 7  # the token was refused (401) or lacks the project role (403)
INTERRUPTED = 130

DEPLOYMENT_EXIT = {"Succeeded": OK, "Failed": FAILED, "Stopped": STOPPED}


class CliError(Exception):
    """An expected failure: `message` is shown as is, `code` becomes the exit status."""

    def __init__(self, message: str, code: int = ERROR):
        self.message = message
        self.code = code
        super().__init__(message)
