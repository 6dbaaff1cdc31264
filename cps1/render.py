"""`cps1 render`: the children CPS1 would create for Workspaces in YAML files, for review
before a GitOps change merges. Uses the hooks' own resolver and builders, and shows the
converged state (the hooks create it in waves: namespace, contents, then the pod)."""

import yaml

from common import crd
from cps1 import manifests
from hooks import model
from hooks.reconcile import workspace
from hooks.settings import Settings


def render(paths: list[str], settings: Settings) -> tuple[list[dict], list[str]]:
    """(children of every Workspace found, problems reported in their status)."""
    docs = manifests.load(paths)
    templates = {d.body["metadata"]["name"]: d.body for d in docs if d.body["kind"] == crd.TEMPLATE_KIND}
    out: list[dict] = []
    problems: list[str] = []
    for doc in docs:
        if doc.body["kind"] != crd.WORKSPACE_KIND:
            continue
        name = doc.body["metadata"]["name"]
        parent = {"metadata": {"uid": "", **doc.body["metadata"]}, "spec": doc.body.get("spec") or {}}
        template = templates.get(parent["spec"].get("template"))
        if template is None:
            problems.append(
                f"{doc.source}: Workspace {name}: workspace template {parent['spec'].get('template')!r} does not exist"
            )
            continue
        ws, errors = model.resolve(parent, template)
        if ws is None:
            problems.append(f"{doc.source}: Workspace {name}: {'; '.join(errors)}")
            continue
        children = workspace.render_children(ws, settings, {}, 1 if ws.running else 0)
        out += [_redacted(child) for child in children]
    return out, problems


def _redacted(child: dict) -> dict:
    """Secret values are generated per cluster object; a review shows their keys only."""
    if child["kind"] != "Secret":
        return child
    return {**child, "data": {key: "" for key in child.get("data", {})}}


class _PlainDumper(yaml.SafeDumper):
    """Writes shared sub-objects out in full instead of as YAML anchors and aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def to_yaml(children: list[dict]) -> str:
    return yaml.dump_all(children, Dumper=_PlainDumper, sort_keys=False)
