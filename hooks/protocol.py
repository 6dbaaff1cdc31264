"""The shapes the hooks exchange with Metacontroller (hook protocol v2) and the Workspace status
they write (its schema is `crds/workspaces.cps1.io.yaml`), so mypy checks every key we set."""

from typing import Any, NotRequired, TypedDict

# A Kubernetes object as JSON; observed children arrive grouped as {"<Kind>.<version>": {name: obj}}.
Object = dict[str, Any]


class SyncRequest(TypedDict, total=False):
    """What Metacontroller posts to /sync, /finalize and /customize (the fields the hooks read)."""

    controller: Object
    parent: Object
    children: dict[str, dict[str, Object]]
    related: dict[str, dict[str, Object]]
    finalizing: bool


class StatusCondition(TypedDict):
    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str
    observedGeneration: int


class PortStatus(TypedDict):
    """An exposed port as served: its share level after the template's cap, and its URL."""

    port: int
    name: str
    share: str
    url: str


class WorkspaceStatus(TypedDict, total=False):
    """Every field of a Workspace's status (all optional: a failed or deleted Workspace sets few)."""

    observedGeneration: int
    phase: str
    message: str
    stoppedReason: str
    namespace: str
    ideURL: str
    sshCommand: str
    ports: list[PortStatus]
    sshHostKey: str
    lastActivity: str
    lastActivitySource: str
    lastStartTime: str
    templateHash: str
    updatePending: bool
    conditions: list[StatusCondition]


class SyncResponse(TypedDict):
    """The answer to /sync and /finalize: the status and the complete list of desired children."""

    status: WorkspaceStatus
    children: list[Object]
    resyncAfterSeconds: NotRequired[float]
    finalized: NotRequired[bool]
