"""The deployment pages: create with a plan preview, list, detail with a live log."""
