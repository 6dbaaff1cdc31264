"""Label keys and the standard label set every CPS1 object carries."""

from common import crd

APP_NAME = "app.kubernetes.io/name"
APP_INSTANCE = "app.kubernetes.io/instance"
APP_COMPONENT = "app.kubernetes.io/component"
APP_PART_OF = "app.kubernetes.io/part-of"
APP_MANAGED_BY = "app.kubernetes.io/managed-by"

WORKSPACE = f"{crd.GROUP}/workspace"
OWNER = f"{crd.GROUP}/owner"
TEMPLATE = f"{crd.GROUP}/template"

PART_OF = "cps1"
MANAGED_BY = "cps1-hooks"


def workspace_labels(workspace: str, owner: str, component: str) -> dict[str, str]:
    """The labels on every child of a Workspace: recommended app labels plus our own keys."""
    return {
        APP_NAME: "workspace",
        APP_INSTANCE: workspace,
        APP_COMPONENT: component,
        APP_PART_OF: PART_OF,
        APP_MANAGED_BY: MANAGED_BY,
        WORKSPACE: workspace,
        OWNER: owner,
    }


def selector_labels(workspace: str) -> dict[str, str]:
    """The minimal, never-changing subset used in Deployment and Service selectors."""
    return {APP_NAME: "workspace", WORKSPACE: workspace}
