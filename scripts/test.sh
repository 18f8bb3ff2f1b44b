#!/usr/bin/env bash
# npm test: bring the host up (idempotent, well under a second when it is), build,
# then run every test — unit tests and the integration tests on the real tools.
# Ends with one plain line "vitest: N passed, N failed, N skipped" for CI logs.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/setup-host.sh
npm run build --silent
mkdir -p .cache
rm -f .cache/reliability.jsonl
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest.json "$@" || rc=$?
node -e '
  const r = require("./.cache/vitest.json");
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' 2>/dev/null || echo "vitest: no report (exit $rc)"
if [ -s .cache/reliability.jsonl ]; then
  node -e '
    const rows = require("fs").readFileSync(".cache/reliability.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
    let t = 0, h = 0;
    console.log("reliability: check | tried | held");
    for (const r of rows) { console.log(`  ${r.check} | ${r.tried} | ${r.held}`); t += r.tried; h += r.held; }
    console.log(`reliability: ${rows.length} checks, ${t} tried, ${h} held`);
  '
fi
exit "$rc"
