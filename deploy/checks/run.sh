#!/usr/bin/env bash
# Checks of what deploy/ ships, run by `deploy/dev.sh test` (so by CI) after the test suite:
#   1. Kubernetes: `kubectl kustomize` renders deploy/kubernetes; the result passes
#      manifests.py (API schema + rollbot's policy); `kubectl apply --dry-run=client -k`
#      accepts it against test/fakes/fake_apiserver.py (discovery only, on 127.0.0.1);
#      the ConfigMap's rollbot.yaml passes `rollbotd --check-config`.
#   2. systemd: `systemd-analyze verify` of deploy/systemd/rollbot.service, warnings included.
#   3. Container: the files the Dockerfile's build stage copies are enough to configure the
#      build (CMake fails on any missing source), and what the runtime stage copies exists.
#      No image is built: no container engine runs on the CI machine.
# Usage: run.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
ROLLBOTD="$BUILD/bot/rollbotd"
WORK=$(mktemp -d)
APISERVER_PID=  # set by coproc below
cleanup() {
  [ -n "$APISERVER_PID" ] && kill "$APISERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
failures=0
step() { printf '\033[1m--> %s\033[0m\n' "$*" >&2; }
fail() { printf 'deploy check FAILED: %s\n' "$*" >&2; failures=$((failures + 1)); }

step "kubectl kustomize deploy/kubernetes ($(kubectl version --client 2>/dev/null | head -1))"
if kubectl kustomize "$ROOT/deploy/kubernetes" > "$WORK/rendered.yaml" 2> "$WORK/kustomize.err"; then
  grep -v "commonLabels' is deprecated" "$WORK/kustomize.err" >&2 || true
  step "manifests.py: API schema and policy"
  /usr/bin/python3 "$ROOT/deploy/checks/manifests.py" < "$WORK/rendered.yaml" || fail "manifests.py"
else
  cat "$WORK/kustomize.err" >&2
  fail "kubectl kustomize"
fi

step "kubectl apply --dry-run=client -k against a fake API server"
mkdir -p "$WORK/home"
coproc APISERVER { exec /usr/bin/python3 "$ROOT/test/fakes/fake_apiserver.py" 2> "$WORK/apiserver.log"; }
port=
read -r -t 30 port <&"${APISERVER[0]}" || true  # it prints its port once it listens
if HOME="$WORK/home" kubectl apply --dry-run=client --validate=false -k "$ROOT/deploy/kubernetes" \
     --server="http://127.0.0.1:$port" > "$WORK/apply.out" 2> "$WORK/apply.err"; then
  cat "$WORK/apply.out" >&2
  expected=$(grep -c '^kind:' "$WORK/rendered.yaml" || true)
  created=$(grep -c 'created (dry run)' "$WORK/apply.out" || true)
  [ "$created" = "$expected" ] || fail "kubectl apply: $created of $expected objects accepted"
else
  cat "$WORK/apply.out" "$WORK/apply.err" >&2
  fail "kubectl apply --dry-run=client -k"
fi

step "rollbotd --check-config on the ConfigMap's rollbot.yaml"
"$ROLLBOTD" --config "$ROOT/deploy/kubernetes/rollbot.yaml" --check-config --console >&2 \
  || fail "deploy/kubernetes/rollbot.yaml does not load"

step "systemd-analyze verify deploy/systemd/rollbot.service"
if command -v systemd-analyze > /dev/null; then
  # verify needs the binary at ExecStart: point it at the one just built.
  sed "s|/usr/local/bin/rollbotd|$ROLLBOTD|g" "$ROOT/deploy/systemd/rollbot.service" \
    > "$WORK/rollbot.service"
  if ! SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$WORK/rollbot.service" \
       > "$WORK/verify.out" 2>&1; then
    fail "systemd-analyze verify"
  fi
  # Unknown keys are only warnings there; here they are failures.
  if [ -s "$WORK/verify.out" ]; then
    cat "$WORK/verify.out" >&2
    fail "systemd-analyze verify printed warnings"
  fi
else
  printf 'systemd-analyze not installed: unit not verified\n' >&2
fi

step "Dockerfile: the build stage's files configure; the runtime stage's files exist"
ctx="$WORK/context"
mkdir -p "$ctx"
# COPY lines of the build stage (no --from): copy each source as the Dockerfile would.
awk '/^FROM .* AS build/ {b=1; next} /^FROM / {b=0} b && /^COPY / && !/--from/ {
       for (i = 2; i < NF; i++) print $i }' "$ROOT/deploy/Dockerfile" |
  while read -r src; do
    mkdir -p "$ctx/$(dirname "$src")"
    cp -r "$ROOT/$src" "$ctx/$src" || exit 1
  done || fail "a COPY source of the build stage is missing"
if ! cmake -S "$ctx" -B "$WORK/context-build" -DCMAKE_BUILD_TYPE=Release \
     -DROLLBOT_BUILD_TESTS=OFF -DROLLBOT_BUILD_BENCH=OFF > "$WORK/cmake.out" 2>&1; then
  cat "$WORK/cmake.out" >&2
  fail "the Dockerfile's build context does not configure"
fi
awk '/^COPY / && !/--from/ && !/^COPY CMakeLists/ { for (i = 2; i < NF; i++) print $i }' \
  "$ROOT/deploy/Dockerfile" | while read -r src; do
    compgen -G "$ROOT/$src" > /dev/null || { printf 'missing: %s\n' "$src" >&2; exit 1; }
  done || fail "a COPY source of the Dockerfile is missing"
"$ROOT/deploy/container/runtime-packages.sh" "$ROLLBOTD" > "$WORK/runtime-packages.txt" \
  || fail "runtime-packages.sh"
grep -qx 'libssl3' "$WORK/runtime-packages.txt" || fail "runtime-packages.sh did not find libssl3"
# Every package the runtime stage installs must exist in Debian 12 under that name.
runtime=$(awk '/^FROM \$\{DEBIAN_IMAGE\}$/ {r=1} r && /install -y/ {p=1; next} p && /\$\(cat/ {
                 for (i = 1; i <= NF; i++) if ($i !~ /^[$\\/]/) print $i; exit }' \
            "$ROOT/deploy/Dockerfile" | tr -d ')')
for pkg in $runtime $(cat "$WORK/runtime-packages.txt"); do
  apt-cache show "$pkg" > /dev/null 2>&1 || fail "the runtime stage installs $pkg, which Debian does not have"
done
[ -n "$runtime" ] || fail "could not read the runtime stage's package list"

if [ "$failures" -gt 0 ]; then
  printf 'deploy checks: %d failure(s)\n' "$failures" >&2
  exit 1
fi
printf 'deploy checks: all passed\n' >&2
