"""The one hook point integrations use: sent after commit for every deployment and instance change.

Receivers get `deployment_id`, `kind` ("deployment" or "target"), `status`, and for targets
`instance`. They must be quick; slow work belongs in a Celery task they enqueue.
"""

from django.dispatch import Signal

deployment_changed = Signal()
