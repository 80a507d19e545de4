import { defineConfig } from 'vitest/config';

// Kernel, swarm and VM tests share one machine's namespaces, daemons and CPUs:
// test files run one after another.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
