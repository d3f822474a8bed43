"""Projects, who is on them and in what role, personal API tokens, and the one access API.

The layer right above core/: it imports no other app of ours. Everything that belongs to a project
(applications, fleets, integrations, pages) lives in the apps above and reaches it through
`Project.objects.for_user(user, role)` and `projects.access.require(user, project, role)`.
"""
