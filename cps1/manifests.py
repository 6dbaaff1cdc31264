"""Reading Workspace and WorkspaceTemplate YAML the way a GitOps repository holds them, and
checking each document against the CRD schemas in crds/ with file and field in every error."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jsonschema
import yaml

from common import crd

CRD_DIR = Path(__file__).resolve().parent.parent / "crds"


@dataclass(frozen=True)
class Document:
    source: str
    body: dict


class ManifestError(Exception):
    """Bad input, with where it is; the CLI prints it and exits non-zero."""


@cache
def crd_schema(kind: str) -> dict:
    for path in sorted(CRD_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["spec"]["names"]["kind"] == kind:
            return doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    raise KeyError(kind)


def yaml_files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            out.append(path)
        else:
            raise ManifestError(f"{raw}: no such file or directory")
    return out


def load(paths: list[str]) -> list[Document]:
    """Every CPS1 document in the files and directories given; other kinds are skipped."""
    docs = []
    for path in yaml_files(paths):
        try:
            bodies = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as err:
            raise ManifestError(f"{path}: not valid YAML: {err}") from err
        for index, body in enumerate(bodies):
            if body is None:
                continue
            where = f"{path}" + (f" (document {index + 1})" if len(bodies) > 1 else "")
            if not isinstance(body, dict):
                raise ManifestError(f"{where}: a document must be a mapping")
            if body.get("apiVersion") == crd.API_VERSION and body.get("kind") in (
                crd.WORKSPACE_KIND,
                crd.TEMPLATE_KIND,
            ):
                check(Document(where, body))
                docs.append(Document(where, body))
    return docs


def check(doc: Document) -> None:
    """Raise ManifestError naming the file and field of the first schema violation."""
    validator = jsonschema.Draft7Validator(crd_schema(doc.body["kind"]))
    errors = sorted(validator.iter_errors(doc.body), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        field = ".".join(str(p) for p in first.absolute_path) or "(document)"
        raise ManifestError(f"{doc.source}: {doc.body['kind']} field {field}: {first.message}")
    name = (doc.body.get("metadata") or {}).get("name")
    if not name:
        raise ManifestError(f"{doc.source}: metadata.name is required")
