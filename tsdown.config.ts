import { defineConfig } from 'tsdown';

// One ESM build with declarations: the library's subpath entry points and the CLI.
// tsdown (not tsup): tsup is unmaintained and needs `ignoreDeprecations` with TypeScript 6.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'packaging/index': 'src/packaging/index.ts',
    'packaging/images/index': 'src/packaging/images/index.ts',
    'cluster/index': 'src/cluster/index.ts',
    'storage/index': 'src/storage/index.ts',
    'testing/index': 'src/testing/index.ts',
    cli: 'src/cli/main.ts',
  },
  format: 'esm',
  dts: true,
  platform: 'node',
  target: 'node20',
  fixedExtension: false,
  clean: true,
  sourcemap: true,
  // Maps point at the line in src/; the sources themselves are not embedded (smaller package).
  outputOptions: { sourcemapExcludeSources: true },
});
