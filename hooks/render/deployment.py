"""The workspace Deployment: one code-server + sshd pod on the home volume, or none when stopped.

The pod meets the restricted Pod Security standard: non-root, no privilege escalation, every
capability dropped, RuntimeDefault seccomp, read-only root with writable /tmp and home.
"""

from typing import Any

from common import crd, labels, names
from hooks.model import WorkspaceModel
from hooks.render import secret, usersecrets

HOME = "/home/coder"
SECRET_DIR = "/etc/cps1"
UID = 1000
# How long a start may take before the Deployment reports ProgressDeadlineExceeded (Failed).
PROGRESS_DEADLINE_SECONDS = 600

CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def _env(ws: WorkspaceModel) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "CPS1_WORKSPACE", "value": ws.name},
        {"name": "CPS1_OWNER", "value": ws.owner},
        {"name": "CPS1_TEMPLATE", "value": ws.template_name},
        {"name": "CPS1_IDE_PORT", "value": str(ws.ide_port)},
        {"name": "CPS1_SSH_PORT", "value": str(ws.ssh_port)},
        {"name": "CPS1_SECRET_DIR", "value": SECRET_DIR},
        {"name": "HOME", "value": HOME},
    ]
    env += [{"name": k, "value": v} for k, v in sorted(ws.parameter_env.items())]
    reserved = {item["name"] for item in env}
    env += [item for item in ws.env if item.get("name") not in reserved]
    taken = {item["name"] for item in env}
    env += [item for item in usersecrets.env(ws) if item["name"] not in taken]
    return env


# The dotfiles step of the image's cps1-init-home, for a template without a repository to clone
# (its script requires one): a user's dotfiles still apply at the first start, without an image change.
DOTFILES_ONLY = (
    'if [ ! -d "$HOME/.dotfiles" ]; then '
    'git clone -- "$CPS1_DOTFILES" "$HOME/.dotfiles" '
    '|| { echo "cps1-init-home: git clone $CPS1_DOTFILES failed; starting without it" >&2; exit 0; }; '
    "for s in install.sh install bootstrap.sh setup.sh; do "
    'if [ -x "$HOME/.dotfiles/$s" ]; then (cd "$HOME/.dotfiles" && "./$s"); break; fi; done; fi'
)


def _init_containers(ws: WorkspaceModel, mounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not ws.git_repository and not ws.dotfiles:
        return []
    env = [{"name": "HOME", "value": HOME}]
    if ws.git_repository:
        env.insert(0, {"name": "CPS1_GIT_REPOSITORY", "value": ws.git_repository})
    if ws.git_ref and ws.git_repository:
        env.append({"name": "CPS1_GIT_REF", "value": str(ws.git_ref)})
    if ws.dotfiles:
        env.append({"name": "CPS1_DOTFILES", "value": ws.dotfiles})
    return [
        {
            "name": "init-home",
            "image": ws.image,
            "imagePullPolicy": ws.image_pull_policy,
            "command": ["cps1-init-home"] if ws.git_repository else ["bash", "-c", DOTFILES_ONLY],
            "env": env,
            "volumeMounts": mounts,
            "securityContext": CONTAINER_SECURITY,
            "resources": _resources(ws),
        }
    ]


def _resources(ws: WorkspaceModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ws.requests:
        out["requests"] = {k: str(v) for k, v in sorted(ws.requests.items())}
    if ws.limits:
        out["limits"] = {k: str(v) for k, v in sorted(ws.limits.items())}
    return out


def render_deployment(ws: WorkspaceModel, replicas: int) -> dict[str, Any]:
    selector = labels.selector_labels(ws.name)
    pod_labels = {**ws.labels("workspace"), **selector}
    mounts: list[dict[str, Any]] = [
        {"name": "home", "mountPath": HOME},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "secret", "mountPath": SECRET_DIR, "readOnly": True},
    ]
    extra_mounts = usersecrets.mounts() if usersecrets.wanted(ws) else []
    mounts += extra_mounts
    container = {
        "name": "workspace",
        "image": ws.image,
        "imagePullPolicy": ws.image_pull_policy,
        "ports": [
            {"name": "ide", "containerPort": ws.ide_port, "protocol": "TCP"},
            {"name": "ssh", "containerPort": ws.ssh_port, "protocol": "TCP"},
        ],
        "env": _env(ws),
        "resources": _resources(ws),
        "volumeMounts": mounts,
        "securityContext": CONTAINER_SECURITY,
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": "ide"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "tcpSocket": {"port": "ssh"},
            "initialDelaySeconds": 10,
            "periodSeconds": 20,
            "failureThreshold": 6,
        },
    }
    pod_spec = {
        "serviceAccountName": names.SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": _init_containers(ws, [*mounts[:2], *extra_mounts]),
        "containers": [container],
        "volumes": [
            {"name": "home", "persistentVolumeClaim": {"claimName": names.PVC}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
            {
                "name": "secret",
                "secret": {
                    "secretName": names.SECRET,
                    "defaultMode": 0o440,
                    "items": [
                        {"key": key, "path": key}
                        for key in (
                            secret.AUTHORIZED_KEYS,
                            secret.HOST_KEY,
                            secret.HOST_KEY_PUB,
                            secret.PASSWORD,
                        )
                    ],
                },
            },
            *([usersecrets.volume(ws)] if usersecrets.wanted(ws) else []),
        ],
    }
    if not pod_spec["initContainers"]:
        del pod_spec["initContainers"]
    # Placement is the admin's, per template: only set when the template asks for it.
    if ws.node_selector:
        pod_spec["nodeSelector"] = dict(ws.node_selector)
    if ws.tolerations:
        pod_spec["tolerations"] = [dict(t) for t in ws.tolerations]
    hash_annotation = {crd.ANNOTATION_TEMPLATE_HASH: ws.template_hash}
    meta = ws.metadata(names.DEPLOYMENT, "workspace")
    meta["annotations"] = dict(hash_annotation)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 2,
            "progressDeadlineSeconds": PROGRESS_DEADLINE_SECONDS,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": pod_labels, "annotations": dict(hash_annotation)},
                "spec": pod_spec,
            },
        },
    }
