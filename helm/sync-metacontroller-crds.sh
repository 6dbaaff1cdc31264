#!/usr/bin/env bash
# Refresh the Metacontroller CRDs vendored in the chart from the module build.sh fetched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(bash "$here/../cps1/localcluster/build.sh" metacontroller | cut -d= -f2)
out="$here/cps1/charts/metacontroller/crds/metacontroller-crds.yaml"
{
  echo "# Metacontroller's CustomResourceDefinitions, as published by the upstream project"
  echo "# (github.com/metacontroller/metacontroller, Apache-2.0, manifests/production/metacontroller-crds-v1.yaml),"
  echo "# copied from the release source that cps1/localcluster/build.sh builds. Refresh with helm/sync-metacontroller-crds.sh."
  cat "$dir/metacontroller-crds-v1.yaml"
} >"$out"
echo "wrote $out"
