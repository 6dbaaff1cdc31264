#!/usr/bin/env bash
# Build the local control plane's binaries from the Go module proxy, into a cache.
#
#   build.sh [component ...]     build what is missing (default: every component), then print
#                                one "component=/dir" line per component on stdout
#
# Components: kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl),
# etcd, kwok (plus its stage YAMLs), metacontroller (plus its CRDs), helm; and the real node's:
# kubelet (kubelet, kube-proxy), containerd (containerd, containerd-shim-runc-v2, ctr), runc,
# cni (bridge, host-local, loopback, portmap), kube-router (its NetworkPolicy firewall), and
# static-images (our own static Go images: images/pause, the sandbox image, and images/netcheck,
# the network tests' probe; OCI archives named cps1.local/NAME:KEY, keyed by their sources);
# caddy (the local ingress proxy); coredns (the in-cluster install's DNS, binary and scratch
# image); actionlint (lints .github/workflows in the tests).
# Versions come from versions.env only. Each component lands in its own directory keyed by
# (component, version, Go version, recipe revision); it is built in a temporary directory under
# a per-component lock and moved into place atomically, so concurrent callers build it once and
# a warm call costs a directory check. Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

# Bump when the recipe below changes in a way that changes the binaries; a component whose own
# recipe changed gets its own revision in RECIPES (so the others are not rebuilt).
RECIPE=2
declare -A RECIPES=([helm]=3)

CACHE=${CPS1_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cps1}
export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache
export GOFLAGS=-modcacherw GOTOOLCHAIN=local CGO_ENABLED=0
GOVERSION=$(go env GOVERSION)
ALL=(kubernetes etcd kwok metacontroller helm kubelet containerd runc cni kube-router static-images caddy coredns
  actionlint)
STATIC_IMAGES=(pause netcheck)

log() { printf '[cps1-build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

version_of() {
  case $1 in
    kubernetes) echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    kwok) echo "$KWOK_VERSION" ;;
    metacontroller) echo "$METACONTROLLER_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    kubelet) echo "$KUBERNETES_VERSION" ;;
    containerd) echo "$CONTAINERD_VERSION" ;;
    runc) echo "$RUNC_VERSION" ;;
    cni) echo "$CNI_PLUGINS_VERSION" ;;
    kube-router) echo "$KUBE_ROUTER_VERSION" ;;
    static-images) static_images_key ;;
    caddy) echo "$CADDY_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    actionlint) echo "$ACTIONLINT_VERSION" ;;
    *) echo "unknown component: $1 (known: ${ALL[*]})" >&2; exit 2 ;;
  esac
}

dir_of() { echo "$CACHE/bin/$1-$(version_of "$1")-$GOVERSION-r${RECIPES[$1]:-$RECIPE}"; }

# k8s_tools STAGE COMMAND...: one wrapper module whose `tool` lines name the commands (of
# k8s.io/kubernetes/cmd), with every staging module that k8s.io/kubernetes requires at v0.0.0
# replaced by its published tag.
k8s_tools() {
  local stage=$1 src=$1/src kv=$KUBERNETES_VERSION sv gomod staging c m
  shift
  sv=v0.${kv#v1.}
  mkdir -p "$src"
  gomod=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$kv" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  staging=$(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}')
  {
    echo "module local.invalid/k8s-bins"
    grep -E '^(go|godebug) ' "$gomod"
    echo "tool ("
    for c in "$@"; do
      echo "	k8s.io/kubernetes/cmd/$c"
    done
    echo ")"
    echo "require k8s.io/kubernetes $kv"
    echo "replace ("
    for m in $staging; do echo "	$m => $m $sv"; done
    echo ")"
  } >"$src/go.mod"
  log "kubernetes: go mod tidy ($(echo "$staging" | wc -w) staging modules at $sv)"
  (cd "$src" && go mod tidy)
  local ld="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$kv -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$kv" | cut -d. -f2)"
    ld="$ld -X $p.gitTreeState=clean -X $p.gitCommit=unknown -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  log "kubernetes: go build $*"
  (cd "$src" && go build -trimpath -ldflags "$ld" -o "$stage/" tool)
}

# The control plane (the long one) and the node's agents share the recipe and the Go cache.
build_kubernetes() { k8s_tools "$1" kube-apiserver kube-controller-manager kube-scheduler kubectl; }
build_kubelet() { k8s_tools "$1" kubelet kube-proxy; }

# build_etcd STAGE: etcd's server module has `replace` lines, so `go install pkg@v` refuses it.
build_etcd() {
  local stage=$1 src=$1/src
  mkdir -p "$src"
  printf 'module local.invalid/etcd-bin\n\ngo 1.26\n\ntool go.etcd.io/etcd/server/v3\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$ETCD_VERSION" >"$src/go.mod"
  (cd "$src" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$stage/etcd" go.etcd.io/etcd/server/v3)
}

# build_kwok STAGE: the documented `go install`; the stage YAMLs ship in the module zip.
build_kwok() {
  local stage=$1
  GOBIN=$stage go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  cp -r "$GOMODCACHE/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage" "$stage/stages"
  find "$stage/stages" -type f ! -name '*.yaml' -delete
  chmod -R u+w "$stage/stages"
}

# build_metacontroller STAGE: from the release source (its go.mod says `module metacontroller`,
# no domain, so the module proxy cannot serve it by name). The archive is checked against its
# pinned sha256; CPS1_METACONTROLLER_SOURCE may name another copy of the same release (for
# example the GitHub tag archive), which must have the same digest. Built as upstream's
# goreleaser does: CGO off, `-X main.version`.
build_metacontroller() {
  local stage=$1 src=$1/src archive=${CPS1_METACONTROLLER_SOURCE:-$here/../../../shared/vendor/metacontroller-${METACONTROLLER_VERSION#v}.tar.gz}
  [ -f "$archive" ] || { echo "Metacontroller source not found: $archive (set CPS1_METACONTROLLER_SOURCE)" >&2; return 1; }
  echo "$METACONTROLLER_SHA256  $archive" | sha256sum --check --quiet - ||
    { echo "sha256 of $archive is not $METACONTROLLER_SHA256" >&2; return 1; }
  mkdir -p "$src"
  tar -xzf "$archive" -C "$src" --strip-components=1
  (cd "$src" && go build -trimpath -ldflags "-s -w -X main.version=$METACONTROLLER_VERSION" \
    -o "$stage/metacontroller" ./pkg/cmd/metacontroller)
  cp "$src/manifests/production/metacontroller-crds-v1.yaml" "$stage/"
  chmod u+w "$stage/metacontroller-crds-v1.yaml"
}

# build_helm STAGE: with the ldflags of helm's release Makefile. Besides the version, the
# commit (the tag's, where the module proxy reports it: some proxies leave `Origin` out, and
# the commit stays empty as in `go install`ed helm) and the tree state, it stamps the
# Kubernetes version that `helm template` and `helm lint` assume without a cluster (1 + the
# major and the minor of the k8s.io/client-go it requires); unstamped, that is v1.20.0 and
# every chart with a newer kubeVersion fails to render.
build_helm() {
  local stage=$1 m=helm.sh/helm/v3 ld commit kv major minor
  read -r kv commit < <(cd "$stage" && go mod download -json "$m@$HELM_VERSION" | python3 -c '
import json, re, sys
info = json.load(sys.stdin)
gomod = open(info["GoMod"]).read()
print(re.search(r"^\s*k8s\.io/client-go (v\S+)", gomod, re.M).group(1), info.get("Origin", {}).get("Hash", ""))')
  major=$(($(echo "${kv#v}" | cut -d. -f1) + 1))
  minor=$(echo "$kv" | cut -d. -f2)
  ld="-X $m/internal/version.version=$HELM_VERSION -X $m/internal/version.metadata="
  ld="$ld -X $m/internal/version.gitCommit=$commit -X $m/internal/version.gitTreeState=clean"
  ld="$ld -X $m/pkg/lint/rules.k8sVersionMajor=$major -X $m/pkg/lint/rules.k8sVersionMinor=$minor"
  ld="$ld -X $m/pkg/chartutil.k8sVersionMajor=$major -X $m/pkg/chartutil.k8sVersionMinor=$minor"
  go_install "$stage" "$ld" "$m@$HELM_VERSION" "$m/cmd/helm"
}

# go_install STAGE LDFLAGS MODULE@VERSION PACKAGE...: the documented `go install` of modules
# without `replace` lines, several commands of one module at once.
go_install() {
  local stage=$1 ld=$2 mv=$3 pkgs=() p
  shift 3
  for p in "$@"; do pkgs+=("$p@${mv#*@}"); done
  GOBIN=$stage go install -trimpath -ldflags "-s -w $ld" "${pkgs[@]}"
}

build_containerd() {
  local m=github.com/containerd/containerd/v2
  go_install "$1" "-X $m/version.Version=$CONTAINERD_VERSION" "$m@$CONTAINERD_VERSION" \
    "$m/cmd/containerd" "$m/cmd/containerd-shim-runc-v2" "$m/cmd/ctr"
}

# runc needs cgo and libseccomp (Debian: libseccomp-dev, pkg-config) for seccomp profiles.
build_runc() {
  CGO_ENABLED=1 GOFLAGS="$GOFLAGS -tags=seccomp" go_install "$1" "-X main.version=${RUNC_VERSION#v}" \
    "github.com/opencontainers/runc@$RUNC_VERSION" github.com/opencontainers/runc
}

build_cni() {
  local m=github.com/containernetworking/plugins
  go_install "$1" "" "$m@$CNI_PLUGINS_VERSION" \
    "$m/plugins/main/bridge" "$m/plugins/ipam/host-local" "$m/plugins/main/loopback" "$m/plugins/meta/portmap"
}

build_kube-router() {
  local m=github.com/cloudnativelabs/kube-router/v2
  go_install "$1" "-X $m/pkg/version.Version=$KUBE_ROUTER_VERSION" "$m@$KUBE_ROUTER_VERSION" "$m/cmd/kube-router"
}

# The static images' version: a digest of their sources, so an edit makes a new image.
static_images_key() {
  (cd "$here/../../images" && find "${STATIC_IMAGES[@]}" -type f -print0 | sort -z | xargs -0 sha256sum) |
    sha256sum | cut -c1-12
}

# scratch_image STAGE NAME BINARY REF [USER]: a one-layer OCI archive STAGE/NAME.tar holding only
# BINARY as /NAME (the entry point), committed by buildah with a fixed timestamp and named REF
# (also written to STAGE/NAME.ref), ready for `ctr images import`.
scratch_image() {
  local stage=$1 name=$2 bin=$3 ref=$4 user=${5:-65535:65535} ctr
  local b=(buildah --root "$stage/src/root" --runroot "$stage/src/runroot" --storage-driver vfs)
  ctr=$("${b[@]}" from scratch)
  "${b[@]}" copy "$ctr" "$bin" "/$name" >/dev/null
  "${b[@]}" config --entrypoint "[\"/$name\"]" --user "$user" "$ctr"
  "${b[@]}" commit --quiet --timestamp 0 --format oci "$ctr" "oci-archive:$stage/$name.tar:$ref" >/dev/null
  "${b[@]}" rm "$ctr" >/dev/null
  echo "$ref" >"$stage/$name.ref"
}

# build_static-images STAGE: each images/NAME (one static Go program) as a scratch image named
# cps1.local/NAME:KEY.
build_static-images() {
  local stage=$1 key name
  key=$(static_images_key)
  for name in "${STATIC_IMAGES[@]}"; do
    (cd "$here/../../images/$name" && go build -trimpath -ldflags "-s -w" -o "$stage/src/$name" .)
    scratch_image "$stage" "$name" "$stage/src/$name" "cps1.local/$name:$key"
  done
}

# build_coredns STAGE: the cluster DNS of the in-cluster install (the stock command and its
# default plugins) as the binary and a scratch image
# cps1.local/coredns:VERSION.
build_coredns() {
  local stage=$1 m=github.com/coredns/coredns
  go_install "$stage" "" "$m@$COREDNS_VERSION" "$m"
  scratch_image "$stage" coredns "$stage/coredns" "cps1.local/coredns:$COREDNS_VERSION"
}

# build_actionlint STAGE: the GitHub Actions workflow linter the tests run on .github/.
build_actionlint() {
  local m=github.com/rhysd/actionlint
  go_install "$1" "" "$m@$ACTIONLINT_VERSION" "$m/cmd/actionlint"
}

# build_caddy STAGE: the stock Caddy command (no plugins). Caddy looks for its version among the
# build's dependencies (xcaddy builds it as one), so stamp it the documented way instead.
build_caddy() {
  local stage=$1
  GOBIN=$stage go install -trimpath \
    -ldflags "-s -w -X github.com/caddyserver/caddy/v2.CustomVersion=$CADDY_VERSION" \
    "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
}

ensure() {
  local c=$1 dest tmp start
  dest=$(dir_of "$c")
  [ -f "$dest/.complete" ] && return 0
  mkdir -p "$CACHE/bin" "$CACHE/locks" "$CACHE/tmp"
  exec {lock}>"$CACHE/locks/$c.lock"
  flock "$lock"
  if [ ! -f "$dest/.complete" ]; then
    start=$(date +%s)
    log "$c $(version_of "$c"): building into $dest"
    tmp=$(mktemp -d "$CACHE/tmp/$c.XXXXXX")
    "build_$c" "$tmp"
    rm -rf "$tmp/src"
    date -u +%FT%TZ >"$tmp/.complete"
    rm -rf "$dest"
    mv -T "$tmp" "$dest"
    log "$c: built in $(($(date +%s) - start))s"
  fi
  exec {lock}>&-
}

main() {
  local comps=("$@") c
  [ ${#comps[@]} -gt 0 ] || comps=("${ALL[@]}")
  for c in "${comps[@]}"; do version_of "$c" >/dev/null; done
  for c in "${comps[@]}"; do ensure "$c"; done
  for c in "${comps[@]}"; do echo "$c=$(dir_of "$c")"; done
}

main "$@"
