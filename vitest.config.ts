import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    // Integration tests start real processes and servers; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts its own apps on free ports; two files at a time keeps the machine responsive.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
