"""The one Kubernetes client of CPS1, shared by the services (api, IDE prober, gateway), the CLI,
the local cluster, the tests and the benchmarks: configuration loading, the dynamic client,
object helpers, and the poll loop every wait is built on.

A top-level package of its own rather than part of `common/` (which stays free of the
kubernetes client, so the hooks never load it) or of `cps1/` (the CLI, which no service may
import). Retries: every call goes through one urllib3 pool whose default policy retries
idempotent requests on connection errors; nothing retries a write, and the callers that must
survive an unhappy API server (the gateway, Metacontroller's loop) time out and try again at
their own level.
"""

from kubeclient.config import configuration, connected, dynamic_client
from kubeclient.objects import FIELD_MANAGER, apply, crd_established, exists, get, nodes_ready, resource
from kubeclient.wait import poll, wait_for

__all__ = [
    "FIELD_MANAGER",
    "apply",
    "configuration",
    "connected",
    "crd_established",
    "dynamic_client",
    "exists",
    "get",
    "nodes_ready",
    "poll",
    "resource",
    "wait_for",
]
