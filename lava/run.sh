#!/bin/sh
# amp-workbench COMMAND … against the board the LAVA test definition names: BOARD or PROFILE,
# and LINK when given (lava/amp-workbench.yaml's params, exported by the test shell).
set -u
here=$(dirname "$0")
command=$1
shift
if [ -n "${PROFILE:-}" ]; then set -- --profile "$PROFILE" "$@"; else set -- --board "${BOARD:-sim-versal}" "$@"; fi
if [ -n "${LINK:-}" ]; then set -- --link "$LINK" "$@"; fi
exec node "$here/../main/host/cli/amp-workbench.cjs" "$command" "$@"
