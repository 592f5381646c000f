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
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
  },
});
