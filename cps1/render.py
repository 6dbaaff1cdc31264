"""`cps1 render`: the children CPS1 would create for Workspaces in YAML files, for review
before a GitOps change merges. Uses the same pure sync function as the hooks."""

from datetime import UTC, datetime

import yaml

from common import crd
from cps1 import manifests
from hooks.reconcile import workspace
from hooks.settings import Settings


def render(paths: list[str], settings: Settings, now: datetime | None = None) -> tuple[list[dict], list[str]]:
    """(children of every Workspace found, problems reported in their status)."""
    docs = manifests.load(paths)
    templates = {
        d.body["metadata"]["name"]: d.body for d in docs if d.body["kind"] == crd.TEMPLATE_KIND
    }
    related = {workspace.TEMPLATE_KEY: templates}
    out: list[dict] = []
    problems: list[str] = []
    for doc in docs:
        if doc.body["kind"] != crd.WORKSPACE_KIND:
            continue
        parent = {"metadata": {"uid": "", **doc.body["metadata"]}, "spec": doc.body.get("spec") or {}}
        answer = workspace.sync(parent, {}, related, now or datetime.now(UTC), settings)
        if answer["status"]["phase"] == crd.PHASE_FAILED:
            problems.append(f"{doc.source}: Workspace {parent['metadata']['name']}: {answer['status']['message']}")
        out += [_redacted(child) for child in answer["children"]]
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
