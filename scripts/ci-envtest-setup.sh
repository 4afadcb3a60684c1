#!/usr/bin/env bash
# Prepares a machine for the envtest tests (packages/envtest/test/Envtest.test.ts) and prints the
# binaries' directory as the last line of stdout, for `export KUBEBUILDER_ASSETS=...`.
# Idempotent: installs only what is missing, and envtest-assets.sh reuses its cache, so a second run
# takes about a second. Cold (nothing cached) it builds etcd, kube-apiserver and
# kube-controller-manager with Go: see packages/envtest/README.md for measured times.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { echo "ci-envtest-setup: $*" >&2; }
started=$(date +%s)

# Tools the tests and Envtest.make use besides the binaries: openssl (the PKI), flock (the build
# lock), ps (the tests' leftover check), kubectl (the interop test; Debian's is an old but
# working client, used only when the machine has none).
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
command -v ps >/dev/null 2>&1 || missing+=(procps)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" != 0 ]]; then
    log "missing ${missing[*]} and not root: install them with apt-get"
    exit 1
  fi
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi

dir="$(bash "$here/../packages/envtest/scripts/envtest-assets.sh" | tail -n 1)"
log "binaries in $dir (setup took $(($(date +%s) - started)) s)"
echo "$dir"
