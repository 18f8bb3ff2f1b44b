import { defineConfig } from 'vitest/config';

// unit: no tools needed, runs in parallel. integration: the real daemons and tools
// brought up by scripts/setup-host.sh; files run one at a time because some tests
// stop or disturb a daemon on purpose, and only after every unit test has finished
// (groupOrder), so ~15k CPU-bound unit tests don't starve TCG guests and daemons.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
