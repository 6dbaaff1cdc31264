"""A Workspace resolved against its template: everything the builders need, checked once."""

import hashlib
import ipaddress
import json
from dataclasses import dataclass, replace
from typing import Any

from common import labels, names, parameters, policy, previews, usersecrets
from common.quantity import parse_quantity


@dataclass(frozen=True)
class EgressRule:
    """A destination a template's admin lets its Workspaces reach beyond the internet."""

    cidr: str
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class WorkspaceModel:
    name: str
    uid: str
    owner: str
    template_name: str
    image: str
    image_pull_policy: str
    requests: dict[str, Any]
    limits: dict[str, Any]
    storage_size: Any
    storage_class: str | None
    ide_port: int
    ssh_port: int
    env: list[dict[str, Any]]
    git_repository: str | None
    git_ref: str | None
    dotfiles: str | None
    idle_timeout_seconds: int
    parameter_values: dict[str, Any]
    parameter_env: dict[str, str]
    template_hash: str
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]
    running: bool = True
    egress_allow: tuple[EgressRule, ...] = ()
    # Exposed ports, each with the share level it is served at (capped by the template).
    preview_ports: tuple[previews.Port, ...] = ()
    # The owner's secrets this Workspace names and the owner's Git identity (added by the sync
    # hook from related objects, hooks/render/usersecrets.py); their dotfiles replace `dotfiles`.
    user_secrets: tuple[usersecrets.UserSecret, ...] = ()
    git_name: str = ""
    git_email: str = ""
    # Why a declared port is not served as asked (above the template's maximum share, or the
    # IDE's or sshd's own port): reported in status, never a reason to fail the Workspace.
    port_problems: tuple[str, ...] = ()

    @property
    def namespace(self) -> str:
        return names.namespace_for(self.name)

    def labels(self, component: str) -> dict[str, str]:
        return labels.workspace_labels(self.name, self.owner, component)

    def metadata(self, name: str, component: str, namespaced: bool = True) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "labels": self.labels(component)}
        if namespaced:
            meta["namespace"] = self.namespace
        return meta


def template_hash(template_spec: dict[str, Any]) -> str:
    """A short, stable digest of a template's spec: changes when the admin edits it."""
    canonical = json.dumps(template_spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _resource_errors(requests: dict[str, Any], limits: dict[str, Any]) -> list[str]:
    errors = []
    for resource in ("cpu", "memory"):
        if resource in requests and resource in limits:
            try:
                over = parse_quantity(requests[resource]) > parse_quantity(limits[resource])
            except ValueError as err:
                errors.append(f"{resource}: {err}")
                continue
            if over:
                errors.append(
                    f"{resource} request {requests[resource]} exceeds the template's limit {limits[resource]}"
                )
    return errors


def _whole(value: Any, default: int, field: str, errors: list[str]) -> int:
    """`value` as a whole number (the CRDs type these fields, but a hook must not trust that)."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    errors.append(f"{field} must be a whole number, got {value!r}")
    return default


def _egress_rules(network: object, errors: list[str]) -> tuple[EgressRule, ...]:
    """The template's `network.egressAllow` entries, each checked (the CRD cannot parse CIDRs)."""
    network = network if network is not None else {}
    entries = (network.get("egressAllow") or []) if isinstance(network, dict) else None
    if not isinstance(entries, list):
        errors.append("the template's network.egressAllow must be a list")
        return ()
    rules = []
    for entry in entries:
        cidr = entry.get("cidr") if isinstance(entry, dict) else None
        ports = (entry.get("ports") or []) if isinstance(entry, dict) else []
        try:
            network_text = str(ipaddress.ip_network(str(cidr), strict=True))
        except ValueError:
            errors.append(f"the template's network.egressAllow has an invalid cidr {cidr!r}")
            continue
        if not isinstance(ports, list) or not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
            errors.append(f"the template's network.egressAllow ports for {cidr} must be port numbers")
            continue
        rules.append(EgressRule(network_text, tuple(ports)))
    return tuple(rules)


def _preview_ports(
    spec: dict[str, Any], tspec: dict[str, Any], reserved: dict[str, int]
) -> tuple[tuple[previews.Port, ...], tuple[str, ...]]:
    """The ports to serve, each at its share level capped by the template, and the problems:
    a share above the cap is served at the cap; the IDE's or sshd's own port is not served."""
    declared = previews.declared_ports(spec, tspec)
    refused = previews.reserved_problems(declared, reserved)
    maximum = previews.max_share(tspec)
    widened = {n: f"{m}; it is served as {maximum}" for n, m in previews.share_problems(declared, tspec).items()}
    served = tuple(replace(p, share=previews.capped(p.share, maximum)) for p in declared if p.port not in refused)
    problems = {**widened, **refused}
    return served, tuple(problems[number] for number in sorted(problems))


def resolve(parent: dict[str, Any], template: dict[str, Any]) -> tuple[WorkspaceModel | None, list[str]]:
    """The model of `parent` made from `template`, or None with the reasons it cannot be."""
    meta = parent.get("metadata") or {}
    spec = parent.get("spec") or {}
    tspec = template.get("spec") or {}
    param_specs = list(tspec.get("parameters") or [])
    given = spec.get("parameters") or {}
    if not isinstance(given, dict):
        return None, ["spec.parameters must be a map of name to value"]
    resolved = parameters.resolve(param_specs, given)
    errors = list(resolved.errors)

    resources = tspec.get("resources") or {}
    requests = dict(resources.get("requests") or {})
    limits = dict(resources.get("limits") or {})
    for resource in ("cpu", "memory"):
        value = parameters.bound(param_specs, resolved.values, resource)
        if value is not None:
            requests[resource] = value
    errors += _resource_errors(requests, limits)

    storage = tspec.get("storage") or {}
    wanted_size = policy.effective_storage(spec, tspec)
    errors += policy.template_limit_problems(spec, tspec).values()
    ports = tspec.get("ports") or {}
    git = tspec.get("git") or {}
    env_params = {
        parameters.env_name(p["name"]): parameters.env_value(resolved.values[p["name"]])
        for p in param_specs
        if p.get("bindTo", "env") == "env" and p.get("name") in resolved.values
    }
    idle_seconds = _whole(
        policy.effective_idle_seconds(spec, tspec), policy.DEFAULT_IDLE_SECONDS, "idleTimeoutSeconds", errors
    )
    ide_port = _whole(ports.get("ide"), 8080, "the template's ports.ide", errors)
    ssh_port = _whole(ports.get("ssh"), 2222, "the template's ports.ssh", errors)
    egress_allow = _egress_rules(tspec.get("network"), errors)
    preview_ports, port_problems = _preview_ports(spec, tspec, {"IDE": ide_port, "sshd": ssh_port})
    if errors:
        return None, errors
    return (
        WorkspaceModel(
            name=meta.get("name", ""),
            uid=meta.get("uid", ""),
            owner=spec.get("owner", ""),
            template_name=spec.get("template", ""),
            image=tspec.get("image", ""),
            image_pull_policy=tspec.get("imagePullPolicy", "IfNotPresent"),
            requests=requests,
            limits=limits,
            storage_size=wanted_size,
            storage_class=storage.get("storageClassName"),
            ide_port=ide_port,
            ssh_port=ssh_port,
            env=list(tspec.get("env") or []),
            git_repository=git.get("repository"),
            git_ref=parameters.bound(param_specs, resolved.values, "gitRef") or git.get("ref"),
            dotfiles=git.get("dotfiles"),
            idle_timeout_seconds=idle_seconds,
            parameter_values=resolved.values,
            parameter_env=env_params,
            template_hash=template_hash(tspec),
            node_selector=dict(tspec.get("nodeSelector") or {}),
            tolerations=list(tspec.get("tolerations") or []),
            running=bool(spec.get("running", True)),
            egress_allow=egress_allow,
            preview_ports=preview_ports,
            port_problems=port_problems,
        ),
        [],
    )
