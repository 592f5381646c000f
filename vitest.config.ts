import { defineConfig } from 'vitest/config';

import { fileURLToPath } from 'node:url';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests and the examples they load share the SDK's sources, not the built copy.
    alias: [
      { find: /^metalk8s-solution-sdk$/, replacement: src('index.ts') },
      { find: /^metalk8s-solution-sdk\/(packaging|cluster|storage|testing)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    // Two projects. `default` runs every test except the cluster ones. `cluster` runs the tests
    // that need the shared Kubernetes control plane, which its global setup starts (building
    // the binaries on first use). `include` is set per project: with `extends: true` a root
    // `include` would be merged into both. Filtering by path works: `npx vitest run test/unit`.
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/.git/**', 'test/integration/cluster/**', 'test/integration/salt/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          // The SaltAPI conformance suite checks tokens against the control plane too.
          include: ['test/integration/cluster/**/*.test.ts', 'test/integration/salt/**/*.test.ts'],
          typecheck: { enabled: false },
          globalSetup: ['test/setup/control-plane.global.ts'],
          // The control plane is built on first use: allow for it.
          hookTimeout: 90 * 60_000,
        },
      },
    ],
  },
});
