import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

// `include` is set per project (with `extends: true` a root `include` would be merged into both).
// Two projects: `default` runs every test except the cluster ones; `cluster` runs the tests
// that need the shared Kubernetes control plane, which its global setup starts (and builds on
// first use). Filtering by file still works: `npx vitest run test/integration/cluster`.
const clusterTests = 'test/integration/cluster/**/*.test.ts';

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
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, clusterTests],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: [clusterTests],
          typecheck: { enabled: false },
          globalSetup: ['test/setup/control-plane.global.ts'],
          // The control plane is built on first use: allow for it.
          hookTimeout: 90 * 60_000,
        },
      },
    ],
  },
});
