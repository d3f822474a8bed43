"""What integrations/ tells the apps above it (the dashboard), without importing them."""

from django.dispatch import Signal

# A project's data in an outside system changed (a push brought commits, a deployment of a GitHub
# commit succeeded), so anything cached from GitHub or JIRA for it is stale. Arguments: project_id.
# Sent inside the transaction that recorded the change; receivers wait for the commit if they must.
outside_data_changed = Signal()
