"""Kubernetes names derived from a Workspace, in one place so every component agrees."""

import re

NAMESPACE_PREFIX = "ws-"
MAX_LABEL = 63
# A Workspace name becomes a namespace name, so it is a DNS-1123 label leaving room for the prefix.
MAX_WORKSPACE_NAME = MAX_LABEL - len(NAMESPACE_PREFIX)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# `<port>--<workspace>` is a preview port's host label (common.previews): a Workspace named like
# one could take over another Workspace's preview origin.
PREVIEW_HOST_LIKE = re.compile(r"^[0-9]+--")
# Owners are user names: a DNS label too, so they can be label values and SSH user names.
USER_NAME = DNS_LABEL

# Names of the children inside a Workspace's namespace.
SECRET = "workspace"
# The Workspace's copy of its owner's secrets and Git identity (hooks/render/usersecrets.py).
USER_SECRET = "user-secrets"
# The key of SECRET that holds code-server's password (the hooks write it, the API reveals it).
SECRET_IDE_PASSWORD = "password"
PVC = "home"
DEPLOYMENT = "workspace"
SERVICE = "workspace"
INGRESS = "workspace"
NETWORK_POLICY = "workspace"
RESOURCE_QUOTA = "workspace"
LIMIT_RANGE = "workspace"
SERVICE_ACCOUNT = "workspace"


def namespace_for(workspace: str) -> str:
    """The namespace that holds a Workspace's children."""
    return NAMESPACE_PREFIX + workspace


def workspace_name_error(name: str) -> str | None:
    """Why `name` cannot name a Workspace, or None when it can."""
    if not name:
        return "a workspace name is required"
    if len(name) > MAX_WORKSPACE_NAME:
        return f"a workspace name has at most {MAX_WORKSPACE_NAME} characters (got {len(name)})"
    if not DNS_LABEL.match(name):
        return "a workspace name uses lower-case letters, digits and '-', and starts and ends with a letter or digit"
    if PREVIEW_HOST_LIKE.match(name):
        return "a workspace name does not start with digits followed by '--' (that form names a preview port's host)"
    return None
