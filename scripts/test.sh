#!/usr/bin/env bash
# npm test: bring the host up (idempotent, well under a second when it is), build,
# then run every test — unit tests and the integration tests on the real tools.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-host.sh
npm run build --silent
exec npx vitest run "$@"
