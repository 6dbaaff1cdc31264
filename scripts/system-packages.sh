#!/usr/bin/env bash
# Debian packages the tests need and pip cannot provide: OpenSSH's sshd (the gateway tests run a
# real one on 127.0.0.1) and chromium (the console's browser tests); for the real node: iptables
# (kube-proxy, kube-router) and ipset (kube-router's NetworkPolicy sets), libseccomp-dev and
# pkg-config (runc is built with seccomp); mmdebstrap and buildah (the images,
# cps1/localcluster/images.py). Installs what is missing when run as root; otherwise says what
# to install. `make test` runs it first.
set -euo pipefail
missing=()
command -v iptables >/dev/null || missing+=(iptables)
command -v ipset >/dev/null || missing+=(ipset)
command -v buildah >/dev/null || missing+=(buildah)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[ -f /usr/include/seccomp.h ] || missing+=(libseccomp-dev)
command -v /usr/sbin/sshd >/dev/null || missing+=(openssh-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the path the browser tests use
command -v npm >/dev/null || missing+=(npm)  # the local OpenID Provider (cps1/localcluster/idp.py)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (install them: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
# policy-rc.d keeps openssh-server from starting a system sshd on 0.0.0.0:22 while it installs.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
