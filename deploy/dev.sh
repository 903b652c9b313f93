#!/usr/bin/env bash
# rollbot developer entry point. On a fresh Debian 12 machine it installs what is missing,
# builds, and then:
#   deploy/dev.sh demo    runs the bot in console mode against a simulated cluster
#   deploy/dev.sh test    runs the whole test suite (unit + integration), then the deploy checks
#   deploy/dev.sh check   only the deploy checks (Kubernetes manifests, systemd unit, Dockerfile)
#   deploy/dev.sh lint    clang-format check and clang-tidy over the project's sources
#   deploy/dev.sh bench   the benchmarks in test/bench (figures, not pass/fail)
#   deploy/dev.sh build   only installs and builds
# Environment: ROLLBOT_BUILD_DIR (default ./build), ROLLBOT_CMAKE_ARGS (extra cmake arguments),
# ROLLBOT_JOBS (default 2: the Beast+SSL translation units need ~1 GB each).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ROLLBOT_BUILD_DIR:-$ROOT/build}
JOBS=${ROLLBOT_JOBS:-2}

# Debian package names. libboost1.81-dev is named on purpose: libboost-dev is 1.74, which
# breaks the coroutine code and conflicts with 1.81.
PACKAGES=(
  libboost1.81-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libspdlog-dev
  libyaml-cpp-dev libsqlite3-dev libgtest-dev libgmock-dev libkainjow-mustache-dev
  libcli11-dev cmake g++ make pkg-config ca-certificates
)
LINT_PACKAGES=(clang-format clang-tidy)
# deploy/checks/run.sh: API models for the manifest schema check, and systemd-analyze. kubectl
# is added below only when none is installed (Debian's kubernetes-client would clash with one).
CHECK_PACKAGES=(python3-kubernetes python3-yaml)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'dev.sh: %s\n' "$*" >&2; exit 1; }

install_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: rollbot's set-up targets Debian 12"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

build() {
  install_packages "${PACKAGES[@]}"
  say "configuring in $BUILD"
  # shellcheck disable=SC2086  # ROLLBOT_CMAKE_ARGS is a list of arguments on purpose
  cmake -S "$ROOT" -B "$BUILD" ${ROLLBOT_CMAKE_ARGS:-} >/dev/null
  say "building with -j$JOBS"
  cmake --build "$BUILD" -j"$JOBS"
}

run_tests() {
  say "running the test suite"
  ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" --timeout 300
}

run_checks() {
  local extra=()
  command -v kubectl >/dev/null || extra+=(kubernetes-client)
  command -v systemd-analyze >/dev/null || extra+=(systemd)
  install_packages "${CHECK_PACKAGES[@]}" "${extra[@]}"
  say "deploy checks: Kubernetes manifests, systemd unit, Dockerfile context"
  "$ROOT/deploy/checks/run.sh" "$BUILD"
}

run_demo() {
  local demo="$BUILD/demo"
  rm -rf "$demo" && mkdir -p "$demo"
  say "starting the demo: a simulated cluster in $demo, console chat on this terminal"
  # The incident: the backend's current image (e4d5c6b7) crash-loops, health answers 503 and
  # the error rate is 27 % until it is rolled back.
  FAKE_KUBECTL_SCENARIO=incident "$BUILD/test/fakes/kubectl" --kubeconfig="$demo/cluster.json" \
    get deployment backend -n preskool -o json >/dev/null
  "$BUILD/test/fakes/fake_erp" --port 18080 --cluster "$demo/cluster.json" >/dev/null &
  ERP_PID=$!
  trap 'kill "$ERP_PID" 2>/dev/null || true' EXIT
  local bot=("$BUILD/bot/rollbotd" --config "$ROOT/config/demo.yaml" --console)
  if [ -t 0 ]; then
    # Scripted tour first, then the terminal is yours (Ctrl-D to leave).
    cat "$ROOT/config/demo.script" - | "${bot[@]}"
  else
    cat "$ROOT/config/demo.script" | "${bot[@]}"
  fi
}

run_bench() {
  say "benchmarks (Release build in $BUILD-bench)"
  # shellcheck disable=SC2086
  cmake -S "$ROOT" -B "$BUILD-bench" -DCMAKE_BUILD_TYPE=Release ${ROLLBOT_CMAKE_ARGS:-} >/dev/null
  cmake --build "$BUILD-bench" -j"$JOBS" --target slack_bench
  "$BUILD-bench/test/bench/slack_bench" all
}

run_lint() {
  install_packages "${LINT_PACKAGES[@]}"
  say "clang-format"
  git -C "$ROOT" ls-files '*.cpp' '*.hpp' | (cd "$ROOT" && xargs clang-format --dry-run --Werror)
  say "clang-tidy"
  git -C "$ROOT" ls-files 'bot/*.cpp' 'adapters/*.cpp' 'actions/*.cpp' 'config/*.cpp' \
    'templates/*.cpp' | (cd "$ROOT" && xargs -P "$JOBS" -n 4 clang-tidy -p "$BUILD" --quiet)
}

case "${1:-}" in
  demo) build; run_demo ;;
  test) build; run_tests; run_checks ;;
  check) build; run_checks ;;
  lint) build; run_lint ;;
  bench) install_packages "${PACKAGES[@]}"; run_bench ;;
  build) build ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
