#!/usr/bin/env bash
# Stand-in for PreSkool's scripts/rollback.sh, driving the fake kubectl beside it.
#
#   rollback.sh                  undo backend and frontend, then wait for both rollouts
#   rollback.sh <sha>            set both deployments' images to <sha>, then wait
#   rollback.sh --frontend-only  undo the frontend, then wait
#   rollback.sh --db-only        alembic downgrade -1 in the backend (kubectl exec)
#
# DRY_RUN=true prints what would run ("[dry run] would run: kubectl …") and changes nothing.
# Every invocation appends one line to "$KUBECONFIG.rollback.log":
#   args=<arguments, shell-quoted> DRY_RUN=<value> cwd=<working directory, shell-quoted>
# Exit codes: 0 done, 2 usage error, otherwise the exit code of the kubectl call that failed.
set -euo pipefail

KUBECTL=${KUBECTL:-$(dirname "$0")/kubectl}
NAMESPACE=${NAMESPACE:-preskool}
DRY_RUN=${DRY_RUN:-false}
BACKEND_IMAGE=ghcr.io/your-org/preskool-backend
FRONTEND_IMAGE=ghcr.io/your-org/preskool-frontend

usage() {
  echo "usage: rollback.sh [--frontend-only|--db-only] [<sha>]" >&2
  [ $# -eq 0 ] || echo "rollback.sh: $*" >&2
  exit 2
}

if [ -n "${KUBECONFIG:-}" ]; then
  quoted=
  [ $# -eq 0 ] || quoted=$(printf '%q ' "$@")
  printf 'args=%s DRY_RUN=%s cwd=%q\n' "${quoted% }" "$DRY_RUN" "$PWD" >>"$KUBECONFIG.rollback.log"
fi

mode=full
sha=
for arg in "$@"; do
  case "$arg" in
    --frontend-only | --db-only)
      [ "$mode" = full ] || usage "only one of --frontend-only and --db-only"
      mode=${arg#--}
      ;;
    -h | --help)
      echo "usage: rollback.sh [--frontend-only|--db-only] [<sha>]"
      exit 0
      ;;
    -*) usage "unknown option: $arg" ;;
    *)
      [ -z "$sha" ] || usage "only one <sha> may be given"
      [[ "$arg" =~ ^[0-9a-f]{7,40}$ ]] || usage "not a commit sha (7-40 hex characters): $arg"
      sha=$arg
      ;;
  esac
done
[ "$mode" != db-only ] || [ -z "$sha" ] || usage "--db-only takes no <sha>"

say() { echo "==> $*"; }

# Runs kubectl, or only shows it under DRY_RUN=true. On failure, stops with kubectl's exit code;
# kubectl's own stderr has already been passed through.
k() {
  if [ "$DRY_RUN" = true ]; then
    echo "[dry run] would run: kubectl $*"
    return 0
  fi
  local rc=0
  "$KUBECTL" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "rollback.sh: kubectl $* failed (exit $rc)" >&2
    exit "$rc"
  fi
}

wait_for() {
  local deployment=$1 timeout=$2
  say "waiting for $deployment"
  k rollout status "deployment/$deployment" -n "$NAMESPACE" "--timeout=$timeout"
}

case "$mode" in
  db-only)
    say "downgrading the database one migration"
    k exec -n "$NAMESPACE" deployment/backend -c backend -- alembic downgrade -1
    ;;
  frontend-only)
    say "rolling back frontend"
    k rollout undo deployment/frontend -n "$NAMESPACE"
    wait_for frontend 60s
    ;;
  full)
    if [ -n "$sha" ]; then
      say "rolling back backend to $sha"
      k set image deployment/backend "backend=$BACKEND_IMAGE:$sha" -n "$NAMESPACE"
      say "rolling back frontend to $sha"
      k set image deployment/frontend "frontend=$FRONTEND_IMAGE:$sha" -n "$NAMESPACE"
    else
      say "rolling back backend"
      k rollout undo deployment/backend -n "$NAMESPACE"
      say "rolling back frontend"
      k rollout undo deployment/frontend -n "$NAMESPACE"
    fi
    wait_for backend 120s
    wait_for frontend 60s
    ;;
esac
if [ "$DRY_RUN" = true ]; then
  say "done (dry run: nothing was changed)"
else
  say "done"
fi
