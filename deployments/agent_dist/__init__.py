"""The agent distribution this server hands out: a wheelhouse and the install script.

Hosts install `fleetdeck-agent` from the server itself (`pip install --no-index --find-links
<server>/agent/dist/ fleetdeck-agent`), so air-gapped hosts need nothing from the internet.
"""
