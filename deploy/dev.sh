#!/usr/bin/env bash
# rollbot developer entry point. On a fresh Debian 12 machine it installs what is missing,
# builds, and then:
#   deploy/dev.sh demo    runs the bot in console mode against a simulated cluster
#   deploy/dev.sh test    runs the whole test suite (unit + integration), then the deploy checks
#   deploy/dev.sh check   only the deploy checks (Kubernetes manifests, systemd unit, Dockerfile)
#   deploy/dev.sh asan    the whole test suite again, built with ASan + UBSan (build-asan/)
#   deploy/dev.sh fuzz [s] each libFuzzer target in test/fuzz for s seconds (default 60; clang)
#   deploy/dev.sh lint    clang-format, clang-tidy, the GCC 12 coroutine check, the layering check
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
  libcli11-dev libpq-dev cmake g++ make pkg-config ca-certificates
  postgresql
)
# postgresql is for the tests only: they initdb a throw-away cluster of their own (the daemon
# needs libpq alone). The package would create and start a "main" cluster on port 5432; it is
# told not to, see install_packages.
LINT_PACKAGES=(clang-format clang-tidy)
# deploy/checks/run.sh: API models for the manifest schema check, and systemd-analyze. kubectl
# is added below only when none is installed (Debian's kubernetes-client would clash with one).
CHECK_PACKAGES=(python3-kubernetes python3-yaml)
FUZZ_PACKAGES=(clang libclang-rt-14-dev)

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
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    "${sudo[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
      "${sudo[@]}" tee /etc/postgresql-common/createcluster.d/rollbot.conf >/dev/null
  fi
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

run_asan() {
  install_packages "${PACKAGES[@]}"
  local dir=${ROLLBOT_ASAN_BUILD_DIR:-$ROOT/build-asan}
  say "ASan + UBSan build in $dir (preset asan)"
  # shellcheck disable=SC2086
  (cd "$ROOT" && cmake --preset asan -B "$dir" ${ROLLBOT_CMAKE_ARGS:-} >/dev/null)
  cmake --build "$dir" -j"$JOBS"
  say "running the test suite under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 600
}

# Seeds the fuzzers from what the project already has: the configs, and real outputs of the
# fake kubectl (one file per reader, with the reader's selector byte in front).
fuzz_seeds() {
  local seeds=$1 kubectl="$BUILD/test/fakes/kubectl" cluster
  mkdir -p "$seeds/fuzz_config" "$seeds/fuzz_kubectl_output"
  cp "$ROOT"/config/*.yaml "$ROOT"/deploy/kubernetes/rollbot.yaml "$seeds/fuzz_config/"
  cluster=$(mktemp -d)
  local i=0 args
  for args in "0 get deployment backend -n preskool -o json" \
              "1 rollout history deployment/backend -n preskool -o json" \
              "2 get pods -n preskool -o json" \
              "3 get events -n preskool -o json" \
              "4 get replicasets -n preskool -o json"; do
    i=$((i + 1))
    # shellcheck disable=SC2086  # one argument per word on purpose
    { printf "\\x0${args%% *}"; FAKE_KUBECTL_SCENARIO=incident "$kubectl" \
        --kubeconfig="$cluster/cluster.json" ${args#* }; } > "$seeds/fuzz_kubectl_output/fake$i" || true
  done
  rm -rf "$cluster"
}

run_fuzz() {
  local seconds=${1:-60}
  install_packages "${PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
  local dir=${ROLLBOT_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
  say "libFuzzer targets with clang in $dir (preset fuzz)"
  (cd "$ROOT" && cmake --preset fuzz -B "$dir" >/dev/null)
  cmake --build "$dir" -j"$JOBS" --target fuzzers
  local seeds="$dir/generated-seeds" target failed=0
  rm -rf "$seeds" && fuzz_seeds "$seeds"
  for target in "$dir"/test/fuzz/fuzz_*; do
    [ -x "$target" ] || continue
    local name corpus
    name=$(basename "$target")
    corpus="$dir/corpus/$name"
    mkdir -p "$corpus" "$dir/artifacts"
    say "fuzzing $name for ${seconds}s"
    # New inputs go to $corpus (kept between runs); the committed and generated seeds are read.
    if ! "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
         -print_final_stats=1 -artifact_prefix="$dir/artifacts/$name-" \
         "$corpus" "$ROOT/test/fuzz/corpus/$name" $( [ -d "$seeds/$name" ] && echo "$seeds/$name" ) \
         > "$dir/$name.log" 2>&1; then
      tail -40 "$dir/$name.log" >&2
      printf 'dev.sh: %s found a problem: the input is in %s/artifacts/; make it a unit test\n' \
        "$name" "$dir" >&2
      failed=1
    fi
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' \
      "$dir/$name.log" >&2 || true
  done
  return "$failed"
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
  say "coroutine arguments (GCC 12)"
  git -C "$ROOT" ls-files '*.cpp' | (cd "$ROOT" && xargs python3 deploy/lint/coroutine_args.py)
  say "layering: dependency direction, pure code without Asio, file sizes"
  (cd "$ROOT" && python3 deploy/lint/layering.py "$BUILD")
  say "clang-tidy"
  git -C "$ROOT" ls-files 'bot/*.cpp' 'adapters/*.cpp' 'actions/*.cpp' 'config/*.cpp' \
    'templates/*.cpp' |
    # The compile commands are GCC's: clang does not know some of its -Wno-… options.
    (cd "$ROOT" && xargs -P "$JOBS" -n 4 clang-tidy -p "$BUILD" --quiet \
      --extra-arg=-Wno-unknown-warning-option)
}

case "${1:-}" in
  demo) build; run_demo ;;
  test) build; run_tests; run_checks ;;
  check) build; run_checks ;;
  asan) run_asan ;;
  fuzz) build; run_fuzz "${2:-60}" ;;
  lint) build; run_lint ;;
  bench) install_packages "${PACKAGES[@]}"; run_bench ;;
  build) build ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
