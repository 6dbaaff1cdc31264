"""What each lifecycle step costs the Kubernetes API server, per Workspace, by verb and resource,
read from the API server's own `apiserver_request_total` before and after each step: create
(until Running), a quiet minute, stop, start and delete (until gone).

    .venv/bin/python -m bench.requests [--workspaces 10] [--quiet-seconds 60]

The benchmark waits by listing Workspaces every 0.1 s; those LISTs are its own and are left out
of the table (the controllers watch; they do not list). Everything else counts, whoever sent it:
Metacontroller, the controller manager, the scheduler, kwok.
"""

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

import requests

import kubeclient as kube
from bench.common import exit_on_sigterm, serve_cps1
from bench.lifecycle import API, phases, timed
from cps1.localcluster.cluster import LocalCluster

# (verb, resource[/subresource]) -> requests.
Counts = dict[tuple[str, str], float]
LINE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")
WRITES = {"POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE", "DELETECOLLECTION"}


def request_counts(metrics_page: str) -> Counts:
    """(verb, resource[/subresource]) -> requests so far, summed over codes and other labels."""
    counts: Counts = collections.defaultdict(float)
    for line in metrics_page.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        resource = labels.get("resource", "")
        if labels.get("subresource"):
            resource += "/" + labels["subresource"]
        counts[(labels.get("verb", ""), resource)] += float(match["value"])
    return counts


def scrape(cluster: LocalCluster) -> Counts:
    page = requests.get(
        f"{cluster.server}/metrics",
        headers={"Authorization": f"Bearer {cluster.token}"},
        verify=str(cluster.run_dir / "certs" / "apiserver.crt"),
        timeout=10,
    ).text
    return request_counts(page)


def delta(after: Counts, before: Counts) -> Counts:
    out = {key: after[key] - before.get(key, 0) for key in after}
    return {key: value for key, value in out.items() if value > 0 and key != ("LIST", "workspaces")}


def report(step: str, counts: Counts, workspaces: int) -> None:
    total = sum(counts.values()) / workspaces
    writes = sum(v for (verb, _), v in counts.items() if verb in WRITES) / workspaces
    print(f"{step}: {total:.1f} requests per Workspace ({writes:.1f} writes)")
    for (verb, resource), value in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"    {verb:7s} {resource:40s} {value / workspaces:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workspaces", type=int, default=10)
    parser.add_argument("--quiet-seconds", type=float, default=60)
    args = parser.parse_args()
    exit_on_sigterm()
    run_dir = Path(tempfile.mkdtemp(prefix="cps1-bench-"))
    with LocalCluster(run_dir, nodes=2) as cluster:
        client, _ = serve_cps1(cluster, hooks_workers=2)
        workspaces = kube.resource(client, API, "Workspace")
        names = [f"req-{i:03d}" for i in range(args.workspaces)]

        def create(name: str) -> None:
            body = {"spec": {"owner": "bench", "template": "python"}}
            kube.apply(client, {"apiVersion": API, "kind": "Workspace", "metadata": {"name": name}, **body})

        def running(value: bool):
            return lambda name: workspaces.patch(
                name=name, body={"spec": {"running": value}}, content_type="application/merge-patch+json"
            )

        def delete(name: str) -> None:
            workspaces.delete(name=name)

        def gone() -> bool:
            return not any(name in names for name in phases(client))

        steps = [
            ("create", "Running", create),
            ("stop", "Stopped", running(False)),
            ("start", "Running", running(True)),
        ]
        results = []
        for step, phase, action in steps:
            before = scrape(cluster)
            timed(client, names, phase, action)
            results.append((step, delta(scrape(cluster), before)))
            if step == "create":
                time.sleep(5)  # let the last status writes of the create land outside the quiet window
                before = scrape(cluster)
                time.sleep(args.quiet_seconds)
                results.append((f"quiet {args.quiet_seconds:.0f} s", delta(scrape(cluster), before)))
        before = scrape(cluster)
        for name in names:
            delete(name)
        kube.wait_for(gone, 600, "the Workspaces were not deleted within 600 s")
        results.append(("delete", delta(scrape(cluster), before)))
    for step, counts in results:
        report(step, counts, args.workspaces)


if __name__ == "__main__":
    main()
