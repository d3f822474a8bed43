"""Fleetdeck host agent.

Kept import-light on purpose: the long-running agent should stay small in memory, so
submodules are imported only by the commands that need them.
"""

__version__ = "0.2.0"
