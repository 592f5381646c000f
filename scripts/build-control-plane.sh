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

# Go >= 1.24 is needed. Without one on PATH, the official toolchain is fetched as the Go module
# golang.org/toolchain from the module proxy (exactly what `GOTOOLCHAIN=auto` would do), its
# h1: hash checked against the checksum database served through the same proxy.
GO_FALLBACK="${GO_FALLBACK:-1.24.11}"
GOPROXY_URL="${GOPROXY_URL:-https://proxy.golang.org}"
go_ok() {
  command -v go >/dev/null || return 1
  local minor
  minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  [ -n "$minor" ] && [ "$minor" -ge 24 ]
}
fetch_go() {
  local arch mod dir zip want got
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) echo "error: no Go toolchain for $(uname -m)" >&2; exit 1 ;; esac
  mod="v0.0.1-go${GO_FALLBACK}.linux-${arch}"
  dir="$CACHE/go/$mod"
  if [ ! -x "$dir/bin/go" ]; then
    log "no Go >= 1.24 on PATH: fetching golang.org/toolchain@$mod from $GOPROXY_URL"
    mkdir -p "$CACHE/go"
    zip="$CACHE/go/$mod.zip.tmp"
    curl -fsSL -o "$zip" "$GOPROXY_URL/golang.org/toolchain/@v/$mod.zip"
    want="$(curl -fsSL "$GOPROXY_URL/sumdb/sum.golang.org/lookup/golang.org/toolchain@$mod" | awk -v m="$mod" '$1 == "golang.org/toolchain" && $2 == m { print $3 }')"
    got="$(python3 - "$zip" <<'PY'
import base64, hashlib, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
lines = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n" for n in sorted(z.namelist()))
print("h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())
PY
)"
    if [ -z "$want" ] || [ "$want" != "$got" ]; then
      rm -f "$zip"
      echo "error: golang.org/toolchain@$mod checksum mismatch (checksum database: '$want', download: '$got')" >&2
      exit 1
    fi
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$zip" "$dir.tmp"
    chmod +x "$dir.tmp/golang.org/toolchain@$mod/bin/"* "$dir.tmp/golang.org/toolchain@$mod/pkg/tool/"*/*
    mv "$dir.tmp/golang.org/toolchain@$mod" "$dir"
    rm -rf "$dir.tmp" "$zip"
  fi
  export PATH="$dir/bin:$PATH"
}
go_ok || fetch_go
go_ok || { echo "error: Kubernetes $K8S_VERSION needs Go >= 1.24; found $(go env GOVERSION 2>/dev/null || echo none)" >&2; exit 1; }
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
