"""How a project asks the apps above it about their rows, without importing them.

Both are sent by `Project` (projects/models.py); deployments/ answers for applications and
deployments. Receivers are connected in the receiving app's `AppConfig.ready()`.
"""

from django.dispatch import Signal

# Asked before a project is deleted. A receiver returns what still runs in the project and so blocks
# the deletion, in words for the user ("Deployment d-ABC123"), or None. Arguments: project.
deletion_blocked_by = Signal()

# Sent inside the deletion's transaction, before the project's row goes. Receivers delete the rows of
# their app that a cascade would refuse to delete (protected foreign keys). Arguments: project.
project_deleting = Signal()
