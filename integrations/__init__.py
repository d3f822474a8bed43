"""Fleetdeck's links to outside systems: one package per system (github/, jira/, aws/, notifications/).

This app sits above deployments/ and hears about deployments only through
`deployments.signals.deployment_changed` (receivers.py). deployments/ reaches it only through
`deployments.integration_points`, which apps.py fills with the functions listed in `PROVIDES`.
"""
