"""The operations this endpoint answers, the role each one needs, and who is calling."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace

from projects.access import membership_for
from projects.models import AccessKey, Membership, Project, Role

from .protocol import CodeDeployError


@dataclass
class Caller:
    """An authenticated request: the access key, its user and project, and the protocol spoken."""

    key: AccessKey
    protocol: str
    region: str = ""
    membership: Membership | None = field(default=None)

    @property
    def user(self):
        return self.key.user

    @property
    def project(self) -> Project:
        return self.key.project

    def require(self, role: str) -> None:
        """The user's role in the key's project now (not when the key was made) must grant `role`."""
        membership = membership_for(self.user, self.project)
        if membership is None:
            raise CodeDeployError(
                "AccessDeniedException",
                f"{self.user.get_username()} is no longer a member of {self.project.slug}; "
                "this access key acts for no one there.",
            )
        if not membership.allows(role):
            raise CodeDeployError(
                "AccessDeniedException",
                f"This needs the {role} role in {self.project.slug}; you are a {membership.role}.",
            )
        self.membership = membership

    def drf_request(self, data=None) -> SimpleNamespace:
        """What the REST API's serializers read from a request: the user (and body, query params)."""
        return SimpleNamespace(user=self.user, data=data or {}, query_params={}, method="POST")


Handler = Callable[[Caller, dict], dict]


@dataclass(frozen=True)
class Operation:
    name: str
    role: str
    handler: Handler


OPERATIONS: dict[str, Operation] = {}
MODULES = (
    "ops_applications",
    "ops_groups",
    "ops_configs",
    "ops_revisions",
    "ops_deployments",
    "ops_targets",
    "ops_onprem",
)


def operation(name: str, *, role: str = Role.VIEWER) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in OPERATIONS:
            raise ValueError(f"{name} is registered twice")
        OPERATIONS[name] = Operation(name, role, handler)
        return handler

    return register


_loaded = False


def load() -> dict[str, Operation]:
    """Import every ops module once, which registers its handlers."""
    global _loaded
    if not _loaded:
        for module in MODULES:
            importlib.import_module(f"{__package__}.{module}")
        _loaded = True
    return OPERATIONS
