"""`cps1 dev up|down|status`: CPS1 on a local control plane, for trying it and developing it."""

import argparse
import json
import os
import secrets
import sys
from pathlib import Path

from cps1.localcluster import processes

SYSTEM_NAMESPACE = "cps1-system"
DEFAULT_DIR = Path(os.environ.get("CPS1_DEV_DIR", Path.home() / ".cache" / "cps1" / "dev"))
HELM_HINT = """KUBECONFIG is set, so CPS1 would not start a local control plane.
To install CPS1 on that cluster, use the Helm chart:
    helm install cps1 ./helm/cps1 --namespace cps1-system --create-namespace
To use the local control plane anyway:  env -u KUBECONFIG cps1 dev up"""


def _state(run_dir: Path) -> dict | None:
    path = run_dir / "state.json"
    return json.loads(path.read_text()) if path.exists() else None


def console_process(run_dir: Path, api_url: str, env: dict[str, str] | None = None) -> tuple[processes.Process, str]:
    """The web console (Streamlit, headless, no usage statistics) on a free loopback port,
    pointed at the API, ready when Streamlit's own /_stcore/health answers; and its URL."""
    port = processes.free_port()
    url = f"http://{processes.LOOPBACK}:{port}"
    argv = [sys.executable, "-m", "console", "--server.address", processes.LOOPBACK, "--server.port", str(port)]
    proc = processes.Process(
        "console",
        argv,
        run_dir / "logs" / f"console-{port}.log",
        {"CPS1_CONSOLE_API_URL": api_url, **(env or {})},
        lambda: processes.http_ok(f"{url}/_stcore/health"),
    )
    return proc, url


def up(args: argparse.Namespace) -> int:
    if os.environ.get("KUBECONFIG") and not args.force_local:
        print(HELM_HINT)
        return 1
    run_dir = Path(args.dir)
    if _state(run_dir):
        print(f"a local control plane already runs from {run_dir}; `cps1 dev down` first", file=sys.stderr)
        return 1
    from cps1 import kube
    from cps1.localcluster import ingress, install
    from cps1.localcluster.cluster import LocalCluster, binaries

    print("starting the local control plane (the first run builds it from source: many minutes)")
    cluster = LocalCluster(run_dir, nodes=args.nodes)
    cluster.start()
    try:
        ing = ingress.start(cluster, binaries(("caddy",))["caddy"])
        hooks, hooks_url = install.gunicorn_process(run_dir, ing.hooks_env())
        cluster.launch(hooks)
        client = kube.dynamic_client(cluster.kubeconfig)
        install.install_crds(client)
        install.install_controller(client, hooks_url)
        for template in install.load_yaml_dir(install.EXAMPLE_TEMPLATES):
            kube.apply(client, template)
        kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}})
        admin_token = f"cps1_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
        api_env = {
            "CPS1_API_KUBECONFIG": str(cluster.kubeconfig),
            "CPS1_API_SYSTEM_NAMESPACE": SYSTEM_NAMESPACE,
            "CPS1_API_BOOTSTRAP_ADMIN": "admin",
            "CPS1_API_BOOTSTRAP_TOKEN": admin_token,
        }
        api, api_url = install.gunicorn_process(run_dir, api_env, app="api.wsgi:app")
        cluster.launch(api)
        console, console_url = console_process(run_dir, api_url)
        cluster.launch(console)
    except BaseException:
        cluster.stop()
        raise
    print(f"""CPS1 is running on a local control plane.
    export KUBECONFIG={cluster.kubeconfig}
    hooks:      {hooks_url}  (/healthz /readyz /metrics)
    api:        {api_url}/api/v1  (OpenAPI: {api_url}/api/v1/openapi.json)
    console:    {console_url}  (sign in with the admin token below)
    IDEs:       {ing.workspace_url("<workspace>")}  (ingress class {ingress.CLASS_NAME}, on 127.0.0.1)
    log in:     cps1 login --url {api_url} --token {admin_token}
                (the first admin's token: keep it; `cps1 dev down` forgets it)
    templates:  python, node, go  (from examples/templates)
    try:        cps1 render examples/workspaces examples/templates
                kubectl apply -f examples/workspaces/alice-api.yaml && kubectl get ws -w
    logs:       {run_dir / "logs"}
    stop:       cps1 dev down""")
    return 0


def down(args: argparse.Namespace) -> int:
    run_dir = Path(args.dir)
    state = _state(run_dir)
    if not state:
        print(f"no local control plane runs from {run_dir}")
        return 0
    for name, pid in reversed(list(state["pids"].items())):
        print(f"stopping {name} (pid {pid})")
        processes.stop_pid(int(pid))
    (run_dir / "state.json").unlink()
    return 0


def status(args: argparse.Namespace) -> int:
    state = _state(Path(args.dir))
    if not state:
        print("not running")
        return 1
    print(json.dumps(state, indent=2))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    dev = sub.add_parser("dev", help="run CPS1 on a local control plane")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    for name, func, text in (
        ("up", up, "start the control plane, Metacontroller, the hooks, the API and the console; install CPS1"),
        ("down", down, "stop every process `dev up` started"),
        ("status", status, "show what runs"),
    ):
        cmd = dev_sub.add_parser(name, help=text)
        cmd.add_argument("--dir", default=str(DEFAULT_DIR), help="state and logs (default: %(default)s)")
        cmd.set_defaults(func=func)
        if name == "up":
            cmd.add_argument("--nodes", type=int, default=1, help="simulated nodes")
            cmd.add_argument("--force-local", action="store_true", help="ignore KUBECONFIG")
