from .application import (
    ALL_AT_ONCE,
    HALF_AT_A_TIME,
    ONE_AT_A_TIME,
    Application,
    DeploymentConfig,
    DeploymentGroup,
    Revision,
)
from .choices import *  # noqa: F403
from .codedeploy import CodeDeployGroupSettings
from .deployment import (
    Deployment,
    DeploymentTarget,
    HostCommand,
    IllegalTransition,
    LifecycleEvent,
    new_deployment_id,
)
from .eventlog import DeploymentEvent
from .fleet import Instance, InstanceGroupState, RegistrationToken, hash_secret, new_secret

__all__ = [
    "ALL_AT_ONCE",
    "HALF_AT_A_TIME",
    "ONE_AT_A_TIME",
    "Application",
    "CodeDeployGroupSettings",
    "Deployment",
    "DeploymentConfig",
    "DeploymentEvent",
    "DeploymentGroup",
    "DeploymentTarget",
    "HostCommand",
    "IllegalTransition",
    "Instance",
    "InstanceGroupState",
    "LifecycleEvent",
    "RegistrationToken",
    "Revision",
    "hash_secret",
    "new_deployment_id",
    "new_secret",
]
