"""The `cps1` command line."""

import argparse
import sys

from hooks.settings import Settings


def _render(args: argparse.Namespace) -> int:
    from cps1 import manifests, render

    try:
        children, problems = render.render(args.paths, Settings.from_env(require_seed=False))
    except manifests.ManifestError as err:
        print(f"cps1 render: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(render.to_yaml(children))
    for problem in problems:
        print(f"cps1 render: {problem}", file=sys.stderr)
    return 1 if problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cps1", description="CPS1 development environments on Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print the children CPS1 would create for Workspace YAML")
    render.add_argument("paths", nargs="+", help="YAML files or directories (Workspaces and their templates)")
    render.set_defaults(func=_render)
    from cps1 import commands, dev, keygen

    dev.add_parser(sub)
    commands.add_parsers(sub)
    keygen.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from apiclient.errors import ApiError
    from cps1.commands import CommandFailed, explain

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ApiError as err:
        print(f"cps1: {explain(err)}", file=sys.stderr)
        return 1
    except CommandFailed as err:
        print(f"cps1: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
