#!/usr/bin/env bash
# Installs what CX Suite needs on Debian 12 (run as root): the toolchain and
# libraries from apt (kubectl, which renders the manifests, comes from the
# machine image or Debian's kubernetes-client), and buf, kubernetes-models
# and yaml from npm into ./node_modules. Installs only
# what is missing, so it is quick and safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev libssl-dev
  libmysqlcppconn-dev mariadb-server mariadb-client libsqlite3-dev prometheus-cpp-dev libjemalloc-dev
  libgtest-dev libgmock-dev curl tzdata openssl
  chromium fonts-dejavu-core
  clang-14 libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from another apt source that bundles npm; only add
# Debian's packages when the commands are missing.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# npm: buf, and kubernetes-models + yaml for the offline manifest validation.
if [[ ! -x node_modules/.bin/buf ]] || ! node_modules/.bin/buf --version >/dev/null 2>&1 ||
  [[ ! -f node_modules/kubernetes-models/package.json || ! -f node_modules/yaml/package.json ]]; then
  echo "== installing buf, kubernetes-models and yaml (npm)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# kubectl (with kustomize) renders the Kubernetes manifests; the machine image
# carries it (Debian's kubernetes-client is too old for components).
if ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "deps: kubectl with kustomize is needed to render k8s/ (not found on this machine)" >&2
  exit 1
fi
