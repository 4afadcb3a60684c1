#!/bin/sh
# Regenerates the deploy manifests (crd.yaml, rbac.yaml, deployment.yaml) from the operator's definitions in
# src/operator.ts with the kubefx CLI: `npm run manifests` writes them to deploy/, `scripts/manifests.sh DIR`
# to DIR (the manifests test compares a fresh copy with the committed one).
set -eu
cd "$(dirname "$0")/.."
out="${1:-deploy}"
# A placeholder: build and push an image of this example, then put its name here (see deploy/README.md).
image="example.com/echo-operator:latest"

kubefx() {
  node --conditions=@kubefx/source ../../packages/k8s/src/bin/kubefx.ts manifests src/operator.ts "$@"
}

# Generate into a temporary directory first: a failure leaves the previous files as they were.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
kubefx --only crd > "$tmp/crd.yaml"
kubefx --only rbac > "$tmp/rbac.yaml"
kubefx --only deployment --image "$image" --arg=--in-cluster > "$tmp/deployment.yaml"
mkdir -p "$out"
mv "$tmp/crd.yaml" "$tmp/rbac.yaml" "$tmp/deployment.yaml" "$out/"
