"""`cps1 dev up|down|status`: CPS1 on a local control plane, for trying it and developing it."""

import argparse
import hashlib
import hmac
import json
import os
import secrets
import shutil
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


def kept_secrets(run_dir: Path) -> dict[str, str]:
    """The hooks' seed and the first admin's token, made on the first `dev up` and kept
    (mode 0600) in the state directory: the seed must not change under existing Workspaces,
    and the API creates the first admin's token only once."""
    path = run_dir / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    kept = {
        "seed": secrets.token_urlsafe(36),
        "admin_token": f"cps1_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        json.dump(kept, out)
    return kept


def preview_secret(seed: str) -> str:
    """The key of preview grants and cookies, derived from the kept seed (a state directory
    from before preview URLs has no key of its own, and a new one would sign everyone out)."""
    return hmac.new(seed.encode(), b"cps1 preview urls", hashlib.sha256).hexdigest()


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


# code-server's health by the Workspace Service's cluster IP (api/prober.py fills it in).
PROBER_URL = "http://{service_ip}:{port}/healthz"


def prober_process(run_dir: Path, kubeconfig: Path) -> processes.Process:
    """The IDE prober (api/prober.py) as a host process: it reaches each Workspace's code-server
    by its Service's cluster IP (kube-proxy on the real node), since the host has no cluster DNS."""
    return processes.Process(
        "ide-prober",
        [sys.executable, "-m", "api.prober", "--kubeconfig", str(kubeconfig), "--url", PROBER_URL],
        run_dir / "logs" / "ide-prober.log",
        {},
        None,
    )


WORKSPACE_IMAGES = ("workspace-python", "workspace-node", "workspace-go")


def import_workspace_images(cluster) -> None:
    """The example templates' images, built here (cps1/localcluster/images.py; cached), into the
    real node's containerd: nothing is ever pulled."""
    from cps1.localcluster import images, node

    for built in images.ensure(WORKSPACE_IMAGES):
        print(f"importing {built.ref} into the node")
        node.import_image(cluster, built.archive)


def up(args: argparse.Namespace) -> int:
    if os.environ.get("KUBECONFIG") and not args.force_local:
        print(HELM_HINT)
        return 1
    run_dir = Path(args.dir)
    if _state(run_dir):
        print(f"a local control plane already runs from {run_dir}; `cps1 dev down` first", file=sys.stderr)
        return 1
    if args.in_cluster:
        return up_in_cluster(args, run_dir)
    import kubeclient as kube
    from cps1.localcluster import gateway, ingress, install
    from cps1.localcluster.cluster import LocalCluster, binaries

    print("starting the local control plane (the first run builds it from source: many minutes)")
    cluster = LocalCluster(run_dir, nodes=args.nodes, real_node=args.real_node)
    cluster.start()
    try:
        if args.real_node:
            import_workspace_images(cluster)
        ing = ingress.start(cluster, binaries(("caddy",))["caddy"])
        kept = kept_secrets(run_dir)
        gateway_keys, gateway_port = gateway.upstream_keys(run_dir), gateway.pick_port()
        admin_token = kept["admin_token"]
        api_env = {
            "CPS1_API_KUBECONFIG": str(cluster.kubeconfig),
            "CPS1_API_SYSTEM_NAMESPACE": SYSTEM_NAMESPACE,
            "CPS1_API_BOOTSTRAP_ADMIN": "admin",
            "CPS1_API_BOOTSTRAP_TOKEN": admin_token,
            # Preview URLs (docs/preview-urls.md): the API checks every request to a Workspace URL.
            "CPS1_API_PREVIEW_DOMAIN": ingress.LOCAL_DOMAIN,
            "CPS1_API_PREVIEW_SECRET": preview_secret(kept["seed"]),
        }
        api, api_url = install.gunicorn_process(run_dir, api_env, app="api.wsgi:app")
        hooks_env = {
            "CPS1_HOOKS_SECRET_SEED": kept["seed"],
            "CPS1_HOOKS_GATEWAY_PUBLIC_KEY": gateway_keys.public_line,
            "CPS1_HOOKS_GATEWAY_PORT": str(gateway_port),
            "CPS1_HOOKS_FORWARD_AUTH_URL": f"{api_url}/preview/auth",
            **ing.hooks_env(),
        }
        hooks, hooks_url = install.gunicorn_process(run_dir, hooks_env)
        cluster.launch(hooks)
        with kube.connected(cluster.kubeconfig) as client:
            install.install_crds(client)
            install.install_controller(client, hooks_url)
            for template in install.load_yaml_dir(install.EXAMPLE_TEMPLATES):
                kube.apply(client, template)
            kube.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}})
            gateway.ensure_host_key(client, SYSTEM_NAMESPACE)
        console, console_url = console_process(run_dir, api_url)
        api.env["CPS1_API_PREVIEW_SIGN_IN_URL"] = console_url  # signed-out browsers sign in there
        if args.oidc:
            from cps1.localcluster import idp

            provider, oidc_env = idp.local_provider(run_dir, api_url, console_url)
            api.env.update(oidc_env)
            cluster.launch(provider)
        cluster.launch(api)
        cluster.launch(console)
        if args.real_node:
            cluster.launch(prober_process(run_dir, cluster.kubeconfig))
        cluster.launch(
            gateway.gateway_process(run_dir, cluster.kubeconfig, SYSTEM_NAMESPACE, gateway_keys, gateway_port)
        )
    except BaseException:
        cluster.stop()
        raise
    nodes = "a real node (cps1-node, pods really run) and " if args.real_node else ""
    sso = (
        "\n    SSO:        the console's 'Sign in with the local IdP': alice (admin), bob or carol, any password;"
        f"\n                cps1 login --oidc --url {api_url}"
        if args.oidc
        else ""
    )
    print(f"""CPS1 is running on a local control plane with {nodes}{args.nodes} simulated node(s).
    export KUBECONFIG={cluster.kubeconfig}
    hooks:      {hooks_url}  (/healthz /readyz /metrics)
    api:        {api_url}/api/v1  (OpenAPI: {api_url}/api/v1/openapi.json)
    console:    {console_url}  (sign in with the admin token below)
    ssh:        127.0.0.1:{gateway_port}  (the gateway: add a key, then `cps1 ws ssh-config NAME`)
    IDEs:       {ing.workspace_url("<workspace>")}  (ingress class {ingress.CLASS_NAME}, on 127.0.0.1)
    previews:   {ing.workspace_url("<port>--<workspace>")}  (cps1 ws port NAME 3000; cps1 ws open NAME 3000)
    log in:     cps1 login --url {api_url} --token {admin_token}
                (the first admin's token, kept in {run_dir / "secrets.json"}){sso}
    templates:  python, node, go  (from examples/templates)
    try:        cps1 render examples/workspaces examples/templates
                kubectl apply -f examples/workspaces/alice-api.yaml && kubectl get ws -w
    logs:       {run_dir / "logs"}
    stop:       cps1 dev down""")
    return 0


def up_in_cluster(args: argparse.Namespace, run_dir: Path) -> int:
    """CPS1 as a platform team runs it: `helm install` of the chart on the real node, every
    component a pod (cps1/localcluster/incluster.py); only the control plane, the node and the
    ingress controller run as host processes."""
    from cps1.localcluster import incluster, ingress
    from cps1.localcluster.cluster import LocalCluster, binaries

    print("starting the local control plane and the real node, then `helm install` of helm/cps1")
    cluster = LocalCluster(run_dir, nodes=args.nodes, real_node=True, metacontroller=False, timeout=180)
    cluster.start()
    try:
        ing = ingress.start(cluster, binaries(("caddy",))["caddy"])
        installed = incluster.install(cluster, ingress_port=ing.port)
        reach = incluster.addresses(cluster)
    except BaseException:
        cluster.stop()
        raise
    took = installed.seconds["helm install to every CPS1 pod Ready"]
    print(f"""CPS1 is installed in-cluster (release {incluster.RELEASE}, namespace {incluster.NAMESPACE}) on a
local control plane with a real node; helm install to every pod Ready took {took:.0f}s.
    export KUBECONFIG={cluster.kubeconfig}
    pods:       kubectl -n {incluster.NAMESPACE} get pods   (hooks, api, ide-prober, console, gateway, metacontroller)
    api:        {reach["api"]}/api/v1  (the api Service; from this machine)
    console:    http://cps1.localhost:{ing.port}/  (through the ingress; Chromium resolves *.localhost)
    ssh:        {reach["ssh"]}  (the gateway's NodePort on the node address)
    IDEs:       {ing.workspace_url("<workspace>")}  (ingress class {ingress.CLASS_NAME}, on 127.0.0.1)
    log in:     cps1 login --url {reach["api"]} --token {reach["token"]}
                (the first admin's token, in the Secret {incluster.RELEASE}-bootstrap)
    helm:       {incluster.helm_path()} --namespace {incluster.NAMESPACE} status {incluster.RELEASE}
    logs:       {run_dir / "logs"}  (pods: kubectl logs)
    stop:       cps1 dev down""")
    return 0


def down(args: argparse.Namespace) -> int:
    run_dir = Path(args.dir)
    state = _state(run_dir)
    if not state:
        print(f"no local control plane runs from {run_dir}")
        return 0
    if "containerd" in state["pids"]:
        from cps1.localcluster import node

        print("stopping the real node (pods, containerd, kubelet, kube-proxy, kube-router)")
        node.cleanup(run_dir, state["pids"], node.node_binaries())
    for name, pid in reversed(list(state["pids"].items())):
        print(f"stopping {name} (pid {pid})")
        processes.stop_pid(int(pid))
    (run_dir / "state.json").unlink()
    # gunicorn's multiprocess metrics (PROMETHEUS_MULTIPROC_DIR): one folder per service and run.
    for folder in run_dir.glob("*-metrics-*"):
        shutil.rmtree(folder, ignore_errors=True)
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
            cmd.add_argument(
                "--real-node",
                action=argparse.BooleanOptionalAction,
                default=True,
                help="run a real node (containerd, kubelet) where pods really run (default: on)",
            )
            cmd.add_argument("--force-local", action="store_true", help="ignore KUBECONFIG")
            cmd.add_argument(
                "--oidc",
                action="store_true",
                help="also run a local OpenID Provider (oidc-provider) and sign in through it (docs/sso.md)",
            )
            cmd.add_argument(
                "--in-cluster",
                action="store_true",
                help="install CPS1 with its Helm chart on the real node, every component a pod (slower to start)",
            )
