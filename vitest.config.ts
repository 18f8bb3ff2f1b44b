import { defineConfig } from 'vitest/config';

// unit: no tools needed, runs in parallel. integration: the real daemons and tools
// brought up by scripts/setup-host.sh; files run one at a time because some tests
// stop or disturb a daemon on purpose, and only after every unit test has finished
// (groupOrder), so ~15k CPU-bound unit tests don't starve TCG guests and daemons.
// reliability: after both (see below).
// Every test runs the handlers in strict-variables mode: a verb that returns a REXX
// variable it does not declare fails (shared/dispatch.ts), so the declarations stay true.
const STRICT = { REXX_ADDRESS_STRICT_VARS: '1' };

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], env: STRICT, sequence: { groupOrder: 0 } } },
      {
        test: {
          name: 'integration',
          env: STRICT,
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Races of 10–20 parallel calls, corrupt state, a wedged backend: last, one file
        // at a time, because some of them stop or wedge a shared daemon on purpose.
        test: {
          name: 'reliability',
          env: STRICT,
          include: ['test/reliability/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
