"""The gateway's Kubernetes I/O, kept to what its ServiceAccount may do.

Reads: Workspaces (with the sshd host key the hooks publish in their status, to pin the
upstream) and user ConfigMaps in the system namespace (common/accounts.py). Writes: merge patches of a
Workspace's activity annotations and `spec.running`, and its own host key Secret. Every call has
a timeout so a slow API server cannot hold an SSH connection forever.
"""

import logging
from datetime import datetime

import urllib3
from kubernetes import dynamic
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError

import kubeclient
from common import accounts, activity, crd, names

log = logging.getLogger("cps1.gateway.cluster")
MERGE_PATCH = "application/merge-patch+json"
# What a call to an unreachable or unhappy API server raises.
_FAILURES = (ApiException, OSError, urllib3.exceptions.HTTPError)


class ClusterError(Exception):
    """The Kubernetes API could not answer; the message is safe to show to a client."""


def activity_patch(now: datetime, start: bool) -> dict:
    """The gateway's activity (source ssh); with `start`, also ask the Workspace to run."""
    return activity.activity_patch(now, "ssh", start=start)


class Cluster:
    def __init__(self, client: dynamic.DynamicClient, system_namespace: str, timeout: float = 5.0) -> None:
        self.system_namespace = system_namespace
        self.timeout = timeout
        # Resolve the kinds once: discovery is then never done concurrently from SSH threads.
        self._workspaces = client.resources.get(api_version=crd.API_VERSION, kind=crd.WORKSPACE_KIND)
        self._configmaps = client.resources.get(api_version="v1", kind="ConfigMap")
        self._secrets = client.resources.get(api_version="v1", kind="Secret")
        self._services = client.resources.get(api_version="v1", kind="Service")

    @classmethod
    def connect(cls, kubeconfig: str, system_namespace: str) -> "Cluster":
        return cls(kubeclient.dynamic_client(kubeconfig), system_namespace)

    def _get(self, resource, name: str, namespace: str | None = None) -> dict | None:
        try:
            return resource.get(name=name, namespace=namespace, _request_timeout=self.timeout).to_dict()
        except NotFoundError:
            return None
        except _FAILURES as err:
            log.warning("kubernetes read failed", extra={"object": name, "error": str(err)})
            raise ClusterError("the gateway cannot reach the cluster right now; try again shortly") from err

    def workspace(self, name: str) -> dict | None:
        return self._get(self._workspaces, name)

    def user(self, name: str) -> dict | None:
        return self._get(self._configmaps, accounts.user_configmap(name), self.system_namespace)

    def workspaces(self) -> list[dict]:
        """Every Workspace (to count a user's running ones before starting another)."""
        try:
            found = self._workspaces.get(_request_timeout=self.timeout).to_dict()
        except _FAILURES as err:
            log.warning("kubernetes list failed", extra={"error": str(err)})
            raise ClusterError("the gateway cannot reach the cluster right now; try again shortly") from err
        return list(found.get("items") or [])

    def patch_workspace(self, name: str, patch: dict) -> None:
        try:
            self._workspaces.patch(name=name, body=patch, content_type=MERGE_PATCH, _request_timeout=self.timeout)
        except _FAILURES as err:
            raise ClusterError(f"could not update workspace {name!r}: {err}") from err

    def service_ip(self, namespace: str) -> str:
        """The cluster IP of the Workspace Service in `namespace` (for an upstream of
        `{service_ip}:22`); ClusterError when it has none yet."""
        service = self._get(self._services, names.SERVICE, namespace) or {}
        address = (service.get("spec") or {}).get("clusterIP")
        if not address or address == "None":
            raise ClusterError(f"the workspace in {namespace} has no service address yet; try again shortly")
        return str(address)

    def secret(self, namespace: str, name: str) -> dict | None:
        return self._get(self._secrets, name, namespace)

    def create_secret(self, body: dict) -> dict:
        """Create a Secret; ApiException (409 when another replica won the race) propagates."""
        return self._secrets.create(body=body, _request_timeout=self.timeout).to_dict()

    def reachable(self) -> bool:
        try:
            self._workspaces.get(limit=1, _request_timeout=self.timeout)
        except _FAILURES:
            return False
        return True
