"""The REST API of a project's connections, issue tracker choice, triggers and delivery logs:
everything the Integrations pages do. Owners only, as on the pages; secrets are write-only."""
