#!/usr/bin/env bash
# Provides the control-plane binaries that kubefx's envtest runs: etcd, kube-apiserver and
# kube-controller-manager. The last line of stdout is the directory that holds them; everything
# else goes to stderr.
#
# Lookup order:
#   1. $KUBEBUILDER_ASSETS, if it holds all three binaries (the controller-runtime setup-envtest convention).
#   2. The cache: ${KUBEFX_ENVTEST_CACHE:-$HOME/.cache/kubefx/envtest}/<version>.
#   3. A build from source with the installed Go, through the Go module proxy, into that cache.
#      kube-apiserver and kube-controller-manager come from the k8s.io/kubernetes module, etcd from
#      go.etcd.io/etcd/server/v3 at the version that Kubernetes release pins in its go.mod.
#      `go install k8s.io/kubernetes/cmd/...@v` is refused because k8s.io/kubernetes replaces its
#      staging modules with local paths; so a throwaway module requires k8s.io/kubernetes and
#      replaces each staging module with its published twin (k8s.io/api v0.X.Y for v1.X.Y).
#
# Options:
#   --no-build   only look (steps 1 and 2); exit 3 with a hint when the binaries are missing.
#   --print-version   print the pinned version and exit.
# Environment:
#   KUBEFX_ENVTEST_K8S_VERSION   Kubernetes release to build (default below).
#   KUBEFX_ENVTEST_CACHE         cache root (default $HOME/.cache/kubefx/envtest).
#   KUBEFX_ENVTEST_BUILD_JOBS    go build -p (default 2).
set -euo pipefail

K8S_VERSION="${KUBEFX_ENVTEST_K8S_VERSION:-v1.37.2}"
CACHE_ROOT="${KUBEFX_ENVTEST_CACHE:-${HOME}/.cache/kubefx/envtest}"
JOBS="${KUBEFX_ENVTEST_BUILD_JOBS:-2}"
BINARIES=(etcd kube-apiserver kube-controller-manager)

log() { echo "envtest-assets: [${SECONDS}s] $*" >&2; }

has_all() {
  local dir="$1" b
  for b in "${BINARIES[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

no_build=0
for arg in "$@"; do
  case "$arg" in
    --no-build) no_build=1 ;;
    --print-version) echo "$K8S_VERSION"; exit 0 ;;
    *) log "unknown argument: $arg"; exit 2 ;;
  esac
done

if [[ ! "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  log "KUBEFX_ENVTEST_K8S_VERSION must look like v1.36.3, got '$K8S_VERSION'"
  exit 2
fi
STAGING_VERSION="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
K8S_MINOR="${BASH_REMATCH[1]}"

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_all "$KUBEBUILDER_ASSETS"; then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of ${BINARIES[*]}; falling back to the cache"
fi

CACHE_DIR="$CACHE_ROOT/$K8S_VERSION"
if has_all "$CACHE_DIR" && [[ -f "$CACHE_DIR/VERSIONS" ]]; then
  log "using cached binaries in $CACHE_DIR"
  echo "$CACHE_DIR"
  exit 0
fi

if [[ "$no_build" == 1 ]]; then
  log "no envtest binaries in \$KUBEBUILDER_ASSETS or $CACHE_DIR."
  log "Build them once with `npx kubefx-envtest-assets` (scripts/envtest-assets.sh of @kubefx/envtest) (11-15 min on 2 cores with cold Go caches), or point KUBEBUILDER_ASSETS at a directory holding ${BINARIES[*]}."
  exit 3
fi

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    [[ -x "$candidate/go" ]] && PATH="$candidate:$PATH"
  done
fi
if ! command -v go >/dev/null 2>&1; then
  log "Go is needed to build the binaries and was not found on PATH."
  exit 4
fi

mkdir -p "$CACHE_ROOT"
# One build at a time per cache: a second caller waits, then finds the finished cache.
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another build holds $CACHE_ROOT/.lock; waiting for it"
  flock 9
fi
if has_all "$CACHE_DIR" && [[ -f "$CACHE_DIR/VERSIONS" ]]; then
  log "built meanwhile by another process: $CACHE_DIR"
  echo "$CACHE_DIR"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kubefx-envtest-build.XXXXXX")"
OUT="$CACHE_ROOT/.building-$K8S_VERSION-$$"
cleanup() { rm -rf "$WORK" "$OUT"; }
trap cleanup EXIT
mkdir -p "$OUT"

started=$(date +%s)
export GOFLAGS="-mod=mod -trimpath"
export GOTOOLCHAIN=local

log "downloading k8s.io/kubernetes@$K8S_VERSION through the Go module proxy"
K8S_DIR="$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
if [[ -z "$K8S_DIR" || ! -f "$K8S_DIR/go.mod" ]]; then
  log "could not download k8s.io/kubernetes@$K8S_VERSION"
  exit 5
fi
GO_DIRECTIVE="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$K8S_DIR/go.mod")"
GODEBUG_DIRECTIVE="$(sed -n 's/^godebug \(.*\)$/\1/p' "$K8S_DIR/go.mod")"
ETCD_VERSION="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$K8S_DIR/go.mod")"
if [[ -z "$ETCD_VERSION" ]]; then
  log "k8s.io/kubernetes@$K8S_VERSION does not pin go.etcd.io/etcd/server/v3; cannot choose an etcd version"
  exit 5
fi

{
  echo "module kubefx.local/envtest-build"
  echo
  echo "go $GO_DIRECTIVE"
  [[ -n "$GODEBUG_DIRECTIVE" ]] && echo && echo "godebug $GODEBUG_DIRECTIVE"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  sed -n '/^replace (/,/^)/p' "$K8S_DIR/go.mod" | awk -v v="$STAGING_VERSION" '$2 == "=>" { printf "\t%s => %s %s\n", $1, $1, v }'
  echo ")"
} > "$WORK/go.mod"

cd "$WORK"
log "resolving modules (k8s.io/* staging modules at $STAGING_VERSION, etcd $ETCD_VERSION)"
go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" \
  "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2

VERSION_PKG=k8s.io/component-base/version
K8S_LDFLAGS="-s -w -X $VERSION_PKG.gitVersion=$K8S_VERSION -X $VERSION_PKG.gitMajor=1 -X $VERSION_PKG.gitMinor=$K8S_MINOR -X $VERSION_PKG.gitTreeState=clean"
for cmd in kube-apiserver kube-controller-manager; do
  log "building $cmd $K8S_VERSION (go build -p $JOBS)"
  go build -p "$JOBS" -ldflags "$K8S_LDFLAGS" -o "$OUT/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2
done
log "building etcd $ETCD_VERSION"
go build -p "$JOBS" -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 >&2

finished=$(date +%s)
{
  echo "kubernetes=$K8S_VERSION"
  echo "kube-apiserver=$K8S_VERSION"
  echo "kube-controller-manager=$K8S_VERSION"
  echo "etcd=$ETCD_VERSION"
  echo "staging-modules=$STAGING_VERSION"
  echo "go=$(go env GOVERSION)"
  echo "built-at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "build-seconds=$((finished - started))"
} > "$OUT/VERSIONS"

"$OUT/kube-apiserver" --version >&2
"$OUT/etcd" --version | head -1 >&2

rm -rf "$CACHE_DIR"
mv "$OUT" "$CACHE_DIR"
log "built in $((finished - started)) s into $CACHE_DIR"
echo "$CACHE_DIR"
