#!/usr/bin/env bash
# The main job: set up, generate the default synthetic AntM2C data (once), execute every notebook in order,
# and write executed notebooks + self-contained HTML reports under artifacts/<run-id>/ (index.html first).
# Options pass through to `ctrlab main`: --data PATH [--spec FILE] (your own logs, only read) --rows N --seed S
# --corrupt R --run-id ID --only 01_etl,... --zoo M,... --engine polars|spark [--master URL]
set -euo pipefail
export CTRLAB_CALLER_CWD="$PWD"  # --data/--spec paths are relative to where the script was run
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
bash "$ROOT/scripts/setup.sh"
cd "$ROOT"
exec deno run -A cli/ctrlab.ts main "$@"
