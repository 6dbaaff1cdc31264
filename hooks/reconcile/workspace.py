"""The pure decision for one Workspace: desired children and status from what is observed.

`sync` takes a Metacontroller hook request (parent, children, related) plus `now` and the
installation settings, and returns the hook response body, in five named steps: the run/idle
decision (`decide_run`), rendering in waves (`render_desired`), the Deployment's state as a
phase (`phase_of`), the status (`build_status`) and when to look again (`resync_after`).
`finalize` needs only the parent and its children. No I/O, no clock,
no randomness; the same request and `now` always give the same answer.
"""

import base64
import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common import crd, names
from common.timefmt import format_time, parse_time
from hooks import access, model
from hooks.protocol import SyncResponse, WorkspaceStatus
from hooks.reconcile import conditions, idle, observed
from hooks.reconcile.conditions import Condition
from hooks.render import usersecrets
from hooks.render.deployment import render_deployment
from hooks.render.ingress import render_ingress
from hooks.render.namespace import render_namespace
from hooks.render.networkpolicy import render_network_policy
from hooks.render.quota import render_limit_range, render_resource_quota
from hooks.render.secret import HOST_KEY_PUB, render_secret
from hooks.render.service import render_service
from hooks.render.serviceaccount import render_service_account
from hooks.render.storage import render_pvc, resize_blocked
from hooks.settings import Settings

TEMPLATE_KEY = f"{crd.TEMPLATE_KIND}.{crd.API_VERSION}"
# How soon to look again at a Workspace that is changing state or failed to start.
BUSY_RESYNC_SECONDS = 10.0
# A mistake in the spec or a missing template: a fix re-triggers a sync by itself (a spec edit,
# or the template, a related object, appearing), so this is only a safety net and stays cheap
# when many Workspaces are broken (bench/scale.py --broken).
INPUT_ERROR_RESYNC_SECONDS = 30.0
FINALIZE_RESYNC_SECONDS = 2.0


def find_template(related: dict[str, Any], name: str) -> dict[str, Any] | None:
    for obj in ((related or {}).get(TEMPLATE_KEY) or {}).values():
        if isinstance(obj, dict) and (obj.get("metadata") or {}).get("name") == name:
            return obj
    return None


def render_children(
    ws: model.WorkspaceModel, settings: Settings, children: dict[str, Any], replicas: int, grow_volume: bool = True
) -> list[dict[str, Any]]:
    """Every desired child, in a fixed order (cluster-scoped namespace first)."""
    ns = ws.namespace
    return [
        render_namespace(ws),
        render_service_account(ws),
        render_resource_quota(ws),
        render_limit_range(ws),
        render_network_policy(ws, settings),
        render_secret(
            ws,
            settings.secret_seed,
            settings.gateway_public_key,
            observed.get(children, observed.SECRET, names.SECRET, ns),
        ),
        *([usersecrets.render_user_secret(ws)] if usersecrets.wanted(ws) else []),
        render_pvc(ws, observed.get(children, observed.PVC, names.PVC, ns), grow_volume),
        render_deployment(ws, replicas),
        render_service(ws, settings),
        render_ingress(ws, settings),
    ]


# What must exist before the workspace pod is created: its quota and defaults (admission
# checks the pod against them), its identity, its Secret and its home volume.
POD_PREREQUISITES = (
    (observed.RESOURCE_QUOTA, names.RESOURCE_QUOTA),
    (observed.LIMIT_RANGE, names.LIMIT_RANGE),
    (observed.SERVICE_ACCOUNT, names.SERVICE_ACCOUNT),
    (observed.SECRET, names.SECRET),
    (observed.PVC, names.PVC),
)


def _in_creation_order(desired: list[dict[str, Any]], children: dict[str, Any], ns: str) -> list[dict[str, Any]]:
    """Create in waves instead of letting creates fail and retry: the Namespace first, then
    what lives in it, then the Deployment once its prerequisites exist. A child that already
    exists is never held back: leaving it out of the answer would delete it."""

    def seen(child: dict[str, Any]) -> bool:
        meta = child["metadata"]
        return observed.get(children, observed.child_key(child), meta["name"], meta.get("namespace")) is not None

    prerequisites = list(POD_PREREQUISITES)
    if any(c["kind"] == "Secret" and c["metadata"]["name"] == names.USER_SECRET for c in desired):
        prerequisites.append((observed.SECRET, names.USER_SECRET))
    if observed.get(children, observed.NAMESPACE, ns) is None:
        wave = {"Namespace"}
    elif all(observed.get(children, key, name, ns) for key, name in prerequisites):
        return desired
    else:
        wave = {c["kind"] for c in desired} - {"Deployment"}
    return [c for c in desired if c["kind"] in wave or seen(c)]


def _keep_running_pod(desired: dict[str, Any], seen: dict[str, Any] | None, template_hash: str) -> bool:
    """Hold back a template change from a running pod: it applies on the next start.

    Returns whether an update is pending. The pod template last applied is sent again, so the
    running pod is not restarted under its user.
    """
    if not seen or not (seen.get("spec") or {}).get("replicas"):
        return False
    old_hash = ((seen.get("metadata") or {}).get("annotations") or {}).get(crd.ANNOTATION_TEMPLATE_HASH)
    if not old_hash or old_hash == template_hash:
        return False
    previous = observed.last_applied(seen)
    template = (previous.get("spec") or {}).get("template")
    if not template:
        return False
    desired["spec"]["template"] = template
    desired["metadata"]["annotations"][crd.ANNOTATION_TEMPLATE_HASH] = old_hash
    return True


def _deployment_state(seen: dict[str, Any] | None) -> tuple[str, str]:
    """("available" | "failed" | "progressing" | "absent" | "scaled-down", message)."""
    if not seen:
        return "absent", ""
    status = seen.get("status") or {}
    generation = (seen.get("metadata") or {}).get("generation", 0)
    current = status.get("observedGeneration", 0) >= generation
    for cond in status.get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            return "failed", cond.get("message", "the pod could not be created")
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return "failed", cond.get("message", "the workspace did not become ready in time")
    if (seen.get("spec") or {}).get("replicas", 1) == 0:
        return ("scaled-down" if not status.get("replicas") else "progressing"), ""
    if current and status.get("availableReplicas", 0) >= 1 and not status.get("unavailableReplicas"):
        return "available", ""
    return "progressing", ""


def _storage_condition(pvc: dict[str, Any] | None, resize_problem: str | None = None) -> Condition:
    if not pvc:
        return Condition("StorageReady", False, "NotCreated", "the home volume is being created")
    phase = (pvc.get("status") or {}).get("phase", "Pending")
    if phase == "Bound" and resize_problem:
        return Condition("StorageReady", True, "ResizeUnsupported", resize_problem)
    if phase == "Bound":
        return Condition("StorageReady", True, "Bound", "the home volume is bound")
    return Condition("StorageReady", False, phase, f"the home volume is {phase.lower()}")


def _base_status(parent: dict[str, Any], settings: Settings, now: datetime) -> WorkspaceStatus:
    name = (parent.get("metadata") or {}).get("name", "")
    activity = idle.activity_of(parent, now)
    status: WorkspaceStatus = {
        "namespace": names.namespace_for(name),
        "ideURL": access.ide_url(name, settings),
        "sshCommand": access.ssh_command(name, settings),
    }
    if activity.last:
        status["lastActivity"] = format_time(activity.last)
        status["lastActivitySource"] = activity.source
    return status


def retained_namespace(parent: dict[str, Any], children: dict[str, Any], related: dict[str, Any]) -> str | None:
    """The Workspace's namespace name when it exists but is not this Workspace's: kept by an
    earlier Workspace of the same name (`storage.onDelete: Retain`). Creating it again would
    fail, and adopting it would hand that Workspace's data to whoever reused the name."""
    meta = parent.get("metadata") or {}
    ns = names.namespace_for(meta.get("name", ""))
    if observed.get(children, observed.NAMESPACE, ns) is not None:
        return None
    found = ((related or {}).get(observed.NAMESPACE) or {}).get(ns)
    if not isinstance(found, dict):
        return None
    owners = (found.get("metadata") or {}).get("ownerReferences") or []
    return None if any(o.get("uid") == meta.get("uid") for o in owners) else ns


def _failed(
    parent: dict[str, Any],
    children: dict[str, Any],
    reason: str,
    errors: list[str],
    *,
    now: datetime,
    settings: Settings,
    template_resolved: bool = False,
) -> SyncResponse:
    """A user's mistake: report it and keep every child exactly as last applied."""
    meta = parent.get("metadata") or {}
    previous = parent.get("status") or {}
    message = "; ".join(errors)
    status = _base_status(parent, settings, now)
    status.update(
        {
            "phase": crd.PHASE_FAILED,
            "message": message,
            "stoppedReason": previous.get("stoppedReason", ""),
            "updatePending": bool(previous.get("updatePending", False)),
        }
    )
    for key in ("lastStartTime", "templateHash", "sshHostKey", "ports"):
        if previous.get(key):
            status[key] = previous[key]
    ns = names.namespace_for(meta.get("name", ""))
    status["conditions"] = conditions.merge(
        previous.get("conditions"),
        [
            Condition("TemplateResolved", True, "Resolved", "the template resolved")
            if template_resolved
            else Condition("TemplateResolved", False, reason, message),
            _storage_condition(observed.get(children, observed.PVC, names.PVC, ns)),
            Condition("Ready", False, reason, message),
        ],
        meta.get("generation", 0),
        now,
    )
    kept = sorted(
        (observed.last_applied(child) for child in observed.all_children(children)),
        key=lambda c: (c["kind"], c["metadata"].get("namespace", ""), c["metadata"]["name"]),
    )
    return {"status": status, "children": kept, "resyncAfterSeconds": INPUT_ERROR_RESYNC_SECONDS}


@dataclass(frozen=True)
class RunDecision:
    """Step 1: whether the Workspace runs, since when, and when the idle policy stops it."""

    running: bool
    started: datetime | None
    deadline: datetime | None
    # Why it does not run ("" while it runs): its user's wish, or the idle policy.
    stopped_reason: str


def decide_run(parent: dict[str, Any], ws: model.WorkspaceModel, *, now: datetime) -> RunDecision:
    """The user's wish (`spec.running`), less the idle policy."""
    meta = parent.get("metadata") or {}
    previous = parent.get("status") or {}
    stopped_before = previous.get("stoppedReason", "")
    started = idle.plausible(parse_time(previous.get("lastStartTime")), now)
    if ws.running and stopped_before == crd.STOPPED_BY_USER:
        started = now
    deadline = idle.idle_deadline(
        idle.activity_of(parent, now),
        started,
        parse_time(meta.get("creationTimestamp")),
        idle.ready_since(previous, now),
        ws.idle_timeout_seconds,
        now,
    )
    running = ws.running and not (deadline is not None and now >= deadline)
    if running and (stopped_before or started is None):
        started = now
    stopped_reason = "" if running else crd.STOPPED_BY_USER if not ws.running else crd.STOPPED_BY_IDLE
    return RunDecision(running, started, deadline, stopped_reason)


@dataclass(frozen=True)
class Desired:
    """Step 2: the children to answer with (in creation waves) and what status reports of them."""

    children: list[dict[str, Any]]
    # The public sshd host key, so the gateway can pin the Workspace's sshd without reading Secrets.
    ssh_host_key: str
    # A template change held back from the running pod until its next start.
    update_pending: bool
    # Why the home volume cannot grow as asked, or None.
    resize_problem: str | None


def render_desired(
    ws: model.WorkspaceModel, children: dict[str, Any], related: dict[str, Any], *, running: bool, settings: Settings
) -> Desired:
    """Every child rendered, then held back to the wave that may be created now."""
    ns = ws.namespace
    resize_problem = resize_blocked(ws, observed.get(children, observed.PVC, names.PVC, ns), related)
    rendered = render_children(ws, settings, children, 1 if running else 0, not resize_problem)
    desired = _in_creation_order(rendered, children, ns)
    seen_deploy = observed.get(children, observed.DEPLOYMENT, names.DEPLOYMENT, ns)
    deploy = next((c for c in desired if c["kind"] == "Deployment"), None)
    pending = running and deploy is not None and _keep_running_pod(deploy, seen_deploy, ws.template_hash)
    secret = next(c for c in rendered if c["kind"] == "Secret" and c["metadata"]["name"] == names.SECRET)
    host_key = base64.b64decode(secret["data"][HOST_KEY_PUB]).decode().strip()
    return Desired(desired, host_key, pending, resize_problem)


def phase_of(
    seen_deploy: dict[str, Any] | None, *, running: bool, stopped_reason: str, namespace_seen: bool
) -> tuple[str, Condition]:
    """Step 3: the phase and the Ready condition, from the run decision and the observed
    Deployment's state."""
    state, problem = _deployment_state(seen_deploy)
    if running:
        if not namespace_seen or state == "absent":
            return crd.PHASE_PENDING, Condition("Ready", False, "Creating", "the workspace is being created")
        if state == "failed":
            return crd.PHASE_FAILED, Condition("Ready", False, "StartFailed", problem)
        if state == "available" and seen_deploy and (seen_deploy.get("spec") or {}).get("replicas"):
            return crd.PHASE_RUNNING, Condition("Ready", True, "Available", "the workspace is running")
        return crd.PHASE_STARTING, Condition("Ready", False, "Starting", "the workspace is starting")
    why = "stopped by its user" if stopped_reason == crd.STOPPED_BY_USER else "stopped after its idle timeout"
    if state in ("absent", "scaled-down"):
        return crd.PHASE_STOPPED, Condition("Ready", False, stopped_reason, f"the workspace is {why}")
    return crd.PHASE_STOPPING, Condition("Ready", False, "Stopping", f"the workspace is being {why}")


def _ports_condition(ws: model.WorkspaceModel) -> Condition:
    """Whether every declared port is served as asked; a GitOps-applied Workspace is never
    refused for its ports, it is told here."""
    if ws.port_problems:
        return Condition("PortsAllowed", False, "NotAsDeclared", "; ".join(ws.port_problems))
    return Condition("PortsAllowed", True, "AsDeclared", "every declared port is served as declared")


def build_status(
    parent: dict[str, Any],
    ws: model.WorkspaceModel,
    run: RunDecision,
    desired: Desired,
    seen_pvc: dict[str, Any] | None,
    ready: tuple[str, Condition],
    *,
    now: datetime,
    settings: Settings,
) -> WorkspaceStatus:
    """Step 4: the Workspace's status, its conditions merged with the previous ones."""
    meta = parent.get("metadata") or {}
    phase, condition = ready
    status = _base_status(parent, settings, now)
    status["sshHostKey"] = desired.ssh_host_key
    status.update(
        {
            "phase": phase,
            "message": condition.message,
            "stoppedReason": run.stopped_reason,
            "templateHash": ws.template_hash,
            "updatePending": desired.update_pending,
        }
    )
    if run.started:
        status["lastStartTime"] = format_time(run.started)
    ports = access.served_ports(ws, settings)
    if ports:
        status["ports"] = [
            {"port": p.port, "name": p.name, "share": p.share, "url": access.preview_url(ws.name, p.port, settings)}
            for p in ports
        ]
    update = (
        Condition(
            "UpdatePending", True, "TemplateChanged", "the template changed; the update applies on the next start"
        )
        if desired.update_pending
        else Condition("UpdatePending", False, "UpToDate", "the workspace runs its template's current revision")
    )
    status["conditions"] = conditions.merge(
        (parent.get("status") or {}).get("conditions"),
        [
            Condition("TemplateResolved", True, "Resolved", f"template {ws.template_name!r} resolved"),
            _storage_condition(seen_pvc, desired.resize_problem),
            condition,
            update,
            _ports_condition(ws),
        ],
        meta.get("generation", 0),
        now,
    )
    return status


def resync_after(phase: str, run: RunDecision, *, now: datetime, settings: Settings) -> float | None:
    """Step 5: when to look again without a change to trigger it: soon while the state
    changes, just after the idle deadline while it runs, else never (None)."""
    if phase in (crd.PHASE_PENDING, crd.PHASE_STARTING, crd.PHASE_STOPPING, crd.PHASE_FAILED):
        return BUSY_RESYNC_SECONDS
    if run.running and run.deadline is not None:
        wait = (run.deadline - now).total_seconds() + 1
        return float(max(1, min(settings.max_resync_seconds, int(wait))))
    return None


def sync(
    parent: dict[str, Any], children: dict[str, Any], related: dict[str, Any], *, now: datetime, settings: Settings
) -> SyncResponse:
    """The sync hook's answer for one Workspace: resolve, then the five steps above."""
    spec = parent.get("spec") or {}
    template = find_template(related, spec.get("template", ""))
    if template is None:
        return _failed(
            parent,
            children,
            "TemplateNotFound",
            [f"workspace template {spec.get('template')!r} does not exist"],
            now=now,
            settings=settings,
        )
    ws, errors = model.resolve(parent, template)
    if ws is None:
        return _failed(parent, children, "InvalidParameters", errors, now=now, settings=settings)
    owners = usersecrets.inputs(parent, related, settings.system_namespace)
    if owners.missing:
        message = (
            f"secrets {', '.join(owners.missing)} of {ws.owner} do not exist; store them (cps1 secret set) "
            "or remove them from the workspace's secrets"
        )
        return _failed(
            parent, children, "SecretsUnavailable", [message], now=now, settings=settings, template_resolved=True
        )
    ws = dataclasses.replace(
        ws,
        user_secrets=owners.secrets,
        git_name=owners.profile["gitName"],
        git_email=owners.profile["gitEmail"],
        dotfiles=owners.profile["dotfiles"] or ws.dotfiles,
    )
    conflict = retained_namespace(parent, children, related)
    if conflict:
        message = (
            f"namespace {conflict} still holds the data of an earlier workspace named {ws.name} "
            f"(kept by storage.onDelete: Retain); an admin must delete it (kubectl delete namespace "
            f"{conflict}) before this name can be used again"
        )
        return _failed(
            parent, children, "NamespaceRetained", [message], now=now, settings=settings, template_resolved=True
        )

    ns = ws.namespace
    run = decide_run(parent, ws, now=now)
    desired = render_desired(ws, children, related, running=run.running, settings=settings)
    ready = phase_of(
        observed.get(children, observed.DEPLOYMENT, names.DEPLOYMENT, ns),
        running=run.running,
        stopped_reason=run.stopped_reason,
        namespace_seen=observed.get(children, observed.NAMESPACE, ns) is not None,
    )
    seen_pvc = observed.get(children, observed.PVC, names.PVC, ns)
    status = build_status(parent, ws, run, desired, seen_pvc, ready, now=now, settings=settings)
    response: SyncResponse = {"status": status, "children": desired.children}
    resync = resync_after(ready[0], run, now=now, settings=settings)
    if resync is not None:
        response["resyncAfterSeconds"] = resync
    return response


def _orphaning(seen: dict[str, Any]) -> dict[str, Any]:
    """The next step in releasing a child from its Workspace so it outlives it.

    Metacontroller merges like `kubectl apply`: a field is removed only when the last applied
    state had it. So the first answer claims the observed ownerReferences as our own, and the
    next one leaves them out, which removes them; the garbage collector then spares the child.
    """
    applied = observed.last_applied(seen)
    if "ownerReferences" in applied["metadata"]:
        del applied["metadata"]["ownerReferences"]
    else:
        applied["metadata"]["ownerReferences"] = (seen.get("metadata") or {}).get("ownerReferences") or []
    return applied


def finalize(parent: dict[str, Any], children: dict[str, Any]) -> SyncResponse:
    """The finalize hook's answer: remove everything, or orphan the namespace and home volume
    when the Workspace asks to retain its data; finalized once nothing is owned any more."""
    meta = parent.get("metadata") or {}
    retain = ((parent.get("spec") or {}).get("storage") or {}).get("onDelete") == "Retain"
    ns = names.namespace_for(meta.get("name", ""))
    keep = []
    if retain:
        for key, name, namespace in ((observed.NAMESPACE, ns, None), (observed.PVC, names.PVC, ns)):
            seen = observed.get(children, key, name, namespace)
            if seen:
                keep.append(_orphaning(seen))
    remaining = observed.all_children(children)
    status = WorkspaceStatus(**(parent.get("status") or {}))
    status.update({"phase": crd.PHASE_TERMINATING, "message": "the workspace is being deleted"})
    status.pop("observedGeneration", None)
    response: SyncResponse = {"status": status, "children": keep, "finalized": not remaining}
    if remaining:
        response["resyncAfterSeconds"] = FINALIZE_RESYNC_SECONDS
    return response
