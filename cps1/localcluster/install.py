"""Installing CPS1 into a control plane without Helm: CRDs, the CompositeController wired to
a hooks URL, and the hooks service itself as a local gunicorn process."""

import sys
from pathlib import Path

import yaml

import kubeclient as kube
from cps1.localcluster.processes import LOOPBACK, Process, free_port, http_ok

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
CONTROLLER = ROOT / "metacontroller" / "workspace-controller.yaml"
EXAMPLE_TEMPLATES = ROOT / "examples" / "templates"


def load_yaml_dir(directory: Path) -> list[dict]:
    return [doc for path in sorted(directory.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def install_crds(client) -> None:
    """Apply the CRDs and wait until the API server serves them."""
    docs = load_yaml_dir(CRD_DIR)
    for doc in docs:
        kube.apply(client, doc)

    kube.wait_for(
        lambda: all(kube.crd_established(client, d["metadata"]["name"]) for d in docs),
        30,
        "the CPS1 CRDs were not Established within 30s",
    )
    client.resources.invalidate_cache()


def controller_manifest(hooks_url: str) -> dict:
    """metacontroller/workspace-controller.yaml with every hook pointed at `hooks_url`."""
    doc = yaml.safe_load(CONTROLLER.read_text())
    for hook in doc["spec"]["hooks"].values():
        webhook = hook["webhook"]
        webhook["url"] = hooks_url.rstrip("/") + webhook.pop("path")
        webhook.pop("service")
    return doc


def install_controller(client, hooks_url: str) -> dict:
    return kube.apply(client, controller_manifest(hooks_url))


def gunicorn_process(
    run_dir: Path, env: dict[str, str] | None = None, workers: int = 2, app: str = "hooks.wsgi:app"
) -> tuple[Process, str]:
    """A WSGI app (the hooks by default) under CPS1's gunicorn settings on a free loopback port,
    and its base URL."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    name = app.split(".")[0]
    proc = Process(
        name,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "common" / "gunicorn_conf.py"),
            "--bind",
            f"{LOOPBACK}:{port}",
            "--workers",
            str(workers),
            "--chdir",
            str(ROOT),
            app,
        ],
        run_dir / "logs" / f"{name}-{port}.log",
        {"PROMETHEUS_MULTIPROC_DIR": str(run_dir / f"{name}-metrics-{port}"), **(env or {})},
        lambda: http_ok(f"{url}/readyz"),
    )
    return proc, url
