#!/usr/bin/env bash
# Builds the Kubernetes control plane used by the SDK's cluster tests and by the MetalK8s
# emulator: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.
#
# Everything comes from public Go modules through the Go module proxy; no upstream source is
# kept in this repository. k8s.io/kubernetes cannot be built with `go install mod@version`
# because its go.mod points its staging modules (k8s.io/api, k8s.io/client-go, ...) at local
# directories, so a throw-away module requires it and replaces every staging module with the
# matching published v0.Y.Z release.
#
# Idempotent: a binary already in the cache is kept. Output:
#   ${SDK_CACHE_DIR:-/var/cache/metalk8s-sdk}/bin/<k8s-version>/{etcd,kube-apiserver,...}
# Prints that directory on its last line.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.4}"
KWOK_VERSION="${KWOK_VERSION:-v0.7.0}"

CACHE="${SDK_CACHE_DIR:-/var/cache/metalk8s-sdk}"
OUT="$CACHE/bin/$K8S_VERSION"
WORK="$CACHE/build/$K8S_VERSION"
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export CGO_ENABLED=0

log() { printf '[build-control-plane %ss] %s\n' "$SECONDS" "$*" >&2; }

command -v go >/dev/null || { echo "error: 'go' is not installed (apt package golang-go or a Go toolchain >= 1.24)" >&2; exit 1; }
go_minor="$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
if [ -z "$go_minor" ] || [ "$go_minor" -lt 24 ]; then
  echo "error: Kubernetes $K8S_VERSION needs Go >= 1.24; found $(go env GOVERSION)" >&2
  exit 1
fi
mkdir -p "$OUT" "$WORK"

have() { [ -x "$OUT/$1" ]; }

# Installs a freshly built binary: built to a temp name, checked, then renamed into place.
install_bin() {
  local name="$1" tmp="$2"
  "$tmp" --version >/dev/null 2>&1 || "$tmp" version >/dev/null 2>&1 || {
    echo "error: built $name does not run" >&2; exit 1; }
  mv -f "$tmp" "$OUT/$name"
  log "built $name"
}

minor="${K8S_VERSION#v1.}"
staging_version="v0.${minor}"
k8s_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${minor%%.*} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"

k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler)
need_k8s=()
for b in "${k8s_bins[@]}"; do have "$b" || need_k8s+=("$b"); done
if [ ${#need_k8s[@]} -gt 0 ]; then
  log "kubernetes $K8S_VERSION: ${need_k8s[*]}"
  dir="$WORK/kubernetes"
  mkdir -p "$dir"
  if [ ! -f "$dir/go.sum" ]; then
    gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    {
      echo "module metalk8s-sdk.local/control-plane"
      echo
      sed -n 's/^go \(.*\)$/go \1/p' "$gomod" | head -1
      sed -n 's/^godebug \(.*\)$/godebug \1/p' "$gomod" | head -1
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      echo "replace ("
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => \./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
      echo ")"
    } >"$dir/go.mod.tmp"
    mv "$dir/go.mod.tmp" "$dir/go.mod"
    pkgs=()
    for b in "${k8s_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b@$K8S_VERSION"); done
    (cd "$dir" && go get "${pkgs[@]}")
  fi
  for b in "${need_k8s[@]}"; do
    (cd "$dir" && go build -trimpath -ldflags="$k8s_ldflags" -o "$OUT/.$b.tmp" "k8s.io/kubernetes/cmd/$b")
    install_bin "$b" "$OUT/.$b.tmp"
  done
fi

if ! have etcd; then
  log "etcd $ETCD_VERSION"
  dir="$WORK/etcd"
  mkdir -p "$dir"
  if [ ! -f "$dir/go.sum" ]; then
    printf 'module metalk8s-sdk.local/etcd\n\ngo 1.24\n' >"$dir/go.mod"
    (cd "$dir" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  fi
  (cd "$dir" && go build -trimpath -ldflags="-s -w" -o "$OUT/.etcd.tmp" go.etcd.io/etcd/server/v3)
  install_bin etcd "$OUT/.etcd.tmp"
fi

if ! have kwok; then
  log "kwok $KWOK_VERSION"
  dir="$WORK/kwok"
  mkdir -p "$dir"
  if [ ! -f "$dir/go.sum" ]; then
    printf 'module metalk8s-sdk.local/kwok\n\ngo 1.24\n' >"$dir/go.mod"
    (cd "$dir" && go get "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  fi
  (cd "$dir" && go build -trimpath -ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" -o "$OUT/.kwok.tmp" sigs.k8s.io/kwok/cmd/kwok)
  install_bin kwok "$OUT/.kwok.tmp"
fi

log "done"
echo "$OUT"
