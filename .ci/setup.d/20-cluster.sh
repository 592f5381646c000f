#!/usr/bin/env bash
# Cluster test environment: builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler
# and kwok from the Go module proxy, and installs salt-master/salt-api from PyPI, both cached
# under $SDK_CACHE_DIR. Both steps skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/build-control-plane.sh
bash scripts/install-salt.sh
