/**
 * The files of a new solution project (`solution init`): pure, from the solution name and the
 * SDK version. Kept as code rather than a folder of templates so the package needs no asset
 * copying and the template is type-checked where it embeds values.
 */

/** TypeScript range the generated project type-checks with (the one the SDK is checked with). */
export const TEMPLATE_TYPESCRIPT_RANGE = '^6.0.3';

/** A file of the template: text and permission bits. */
export interface TemplateFile {
  readonly text: string;
  readonly mode: number;
}

function pascal(name: string): string {
  return name
    .split('-')
    .filter((p) => p !== '')
    .map((p) => (/^\d/.test(p) ? `X${p}` : p[0]!.toUpperCase() + p.slice(1)))
    .join('');
}

function title(name: string): string {
  return name
    .split('-')
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join(' ');
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** Every file of a new project, by path relative to its folder, sorted. */
export function projectTemplate(name: string, sdkVersion: string): ReadonlyMap<string, TemplateFile> {
  const kind = pascal(name);
  const display = title(name);
  const group = `${name}.example.com`;
  const plural = `${kind.toLowerCase()}s`;
  const files = new Map<string, TemplateFile>();
  const add = (path: string, text: string, mode = 0o644) => files.set(path, { text, mode });

  add(
    'package.json',
    json({
      name,
      version: '0.1.0',
      private: true,
      description: `${display}: a MetalK8s Solution.`,
      type: 'module',
      engines: { node: '>=20.19' },
      scripts: {
        typecheck: 'tsc --noEmit',
        validate: 'solution validate .',
        pack: 'solution pack . -o out',
        test: 'tsc --noEmit && node --test test/solution.test.mjs',
      },
      dependencies: { 'metalk8s-solution-sdk': `^${sdkVersion}` },
      devDependencies: { typescript: TEMPLATE_TYPESCRIPT_RANGE },
    }),
  );

  add(
    'tsconfig.json',
    json({
      compilerOptions: {
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        resolveJsonModule: true,
        skipLibCheck: true,
        noEmit: true,
        types: [],
      },
      include: ['solution.config.ts'],
    }),
  );

  add('.gitignore', 'node_modules/\nout/\n*.iso\n');

  add(
    'solution.config.ts',
    `/**
 * ${display}: a MetalK8s Solution. Run \`npm run validate\` after every change, \`npm test\` to
 * type-check, validate and pack, and \`npm run pack\` for out/${name}-<version>.iso.
 *
 * Reference of every field: node_modules/metalk8s-solution-sdk/docs/solution-file.md
 */
import { defineCrd, defineSolution, Size, z } from 'metalk8s-solution-sdk';
import overview from './dashboards/overview.json' with { type: 'json' };

const VERSION = '0.1.0';

/** The custom resource your operator reconciles: one per instance of the product. */
export const ${kind}Crd = defineCrd({
  group: '${group}',
  kind: '${kind}',
  description: 'An instance of ${display}.',
  versions: [
    {
      name: 'v1alpha1',
      spec: z.object({
        replicas: z.number().int().min(1).default(1).describe('Number of server pods.'),
        storageSize: z.string().default('10Gi').describe('Size of each server volume.'),
      }),
      status: z.object({
        phase: z.enum(['Pending', 'Running', 'Failed']).optional(),
        readyReplicas: z.number().int().optional(),
      }),
      printerColumns: [
        { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
        { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
      ],
    },
  ],
} as const);

export default defineSolution({
  name: '${name}',
  version: VERSION,
  displayName: '${display}',
  description: '${display} on MetalK8s.',
  operator: {
    // MetalK8s runs this image with the command "${name}-operator --config=/etc/config/operator.yaml":
    // the image must hold a ${name}-operator executable on $PATH (here /usr/local/bin).
    image: '${name}-operator',
    permissions: {
      namespaced: [
        { apiGroups: ['${group}'], resources: ['${plural}', '${plural}/status'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
        { apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['services', 'configmaps', 'persistentvolumeclaims', 'pods'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    },
  },
  crds: [${kind}Crd],
  images: [
    // Built from the folders under images/ (replace the stand-in scripts with your binaries), or
    // pulled: { kind: 'registry', reference: 'registry.example.com/${name}/operator:0.1.0' }.
    {
      name: '${name}-operator',
      tag: VERSION,
      source: { kind: 'build', layers: [{ directory: 'images/operator' }], config: { entrypoint: ['/usr/local/bin/${name}-operator'], user: '65532' } },
    },
    {
      name: '${name}-server',
      tag: VERSION,
      source: { kind: 'build', layers: [{ directory: 'images/server' }], config: { entrypoint: ['/usr/local/bin/${name}-server'], user: '65532' } },
    },
  ],
  components: [
    {
      name: 'server',
      image: '${name}-server',
      description: 'The ${display} server',
      volumes: [{ name: 'data', size: Size.gibibytes(10), storageClass: '${name}-data', count: { perNode: 1, role: 'node' } }],
    },
  ],
  storageClasses: [{ name: '${name}-data', fsType: 'xfs', description: '${display} data' }],
  dashboards: [{ uid: '${`${name}-overview`.slice(0, 40)}', folder: '${display}', dashboard: overview }],
  alerts: [
    {
      name: '${name}',
      rules: [
        {
          alert: '${kind}ServerDown',
          expr: 'sum(up{job="${name}-server"}) == 0',
          for: '5m',
          labels: { severity: 'critical' },
          annotations: { summary: 'No ${display} server is up' },
        },
      ],
    },
  ],
});
`,
  );

  add(
    'dashboards/overview.json',
    json({
      title: `${display} / Overview`,
      schemaVersion: 39,
      tags: [name],
      time: { from: 'now-6h', to: 'now' },
      panels: [
        {
          id: 1,
          type: 'stat',
          title: 'Servers up',
          gridPos: { x: 0, y: 0, w: 6, h: 4 },
          datasource: { type: 'prometheus', uid: 'metalk8s-prometheus' },
          targets: [{ refId: 'A', expr: `sum(up{job="${name}-server"})` }],
        },
      ],
    }),
  );

  const standIn = (what: string) => `#!/bin/sh\n# Stand-in for the ${what}: replace this file with your binary.\nexec sleep infinity\n`;
  add(`images/operator/usr/local/bin/${name}-operator`, standIn(`${name} operator`), 0o755);
  add(`images/server/usr/local/bin/${name}-server`, standIn(`${name} server`), 0o755);

  add(
    'test/solution.test.mjs',
    `// Checks what a customer's cluster will check: the solution validates, renders its CRD and
// platform objects, and packs into an ISO that \`solution verify\` accepts. Run: npm test
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { render } from 'metalk8s-solution-sdk';
import { loadSolutionFile, pack, verify } from 'metalk8s-solution-sdk/packaging';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the solution is valid, without warnings', async () => {
  const { solution } = await loadSolutionFile(root);
  assert.equal(solution.name, '${name}');
  assert.deepEqual(solution.warnings, []);
});

test('it renders the CRD and the platform objects', async () => {
  const { solution } = await loadSolutionFile(root);
  const paths = [...render(solution).files.keys()];
  assert.ok(paths.includes('operator/deploy/crds/${group}_${plural}_crd.yaml'), paths.join(', '));
  assert.ok(paths.some((p) => p.startsWith('platform/')), paths.join(', '));
});

test('it packs into an ISO that verifies', async () => {
  const out = await mkdtemp(join(tmpdir(), '${name}-pack-'));
  try {
    const packed = await pack({ configPath: root, outDir: out });
    const report = await verify({ path: packed.path });
    assert.equal(report.ok, true, JSON.stringify(report.issues, null, 2));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
`,
  );

  add(
    '.github/workflows/solution.yml',
    `# CI for ${display}: type-check, validate, pack, then import the ISO into the MetalK8s
# emulator (a real Kubernetes API and an emulated bootstrap node) and run it in an environment.
name: solution
on: [push, pull_request]

jobs:
  pack:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with: { node-version: 20, cache: npm }
      - run: npm ci
      - run: npm test
      - run: npm run pack          # build time: the last commit's, so reruns give the same ISO
      - uses: actions/upload-artifact@v4
        with: { name: iso, path: out/ }

  lifecycle:
    needs: pack
    runs-on: ubuntu-24.04
    env:
      # The emulator builds the Kubernetes control plane on its first run (about 25 minutes on
      # 2 cores); the cache keeps it between runs.
      SDK_CACHE_DIR: \${{ github.workspace }}/.metalk8s-sdk-cache
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with: { node-version: 20, cache: npm }
      - run: npm ci
      - run: sudo apt-get update && sudo apt-get install -y nginx
      - uses: actions/cache@v4
        with:
          path: .metalk8s-sdk-cache
          key: metalk8s-sdk-\${{ runner.os }}-\${{ hashFiles('package-lock.json') }}
      - uses: actions/download-artifact@v4
        with: { name: iso, path: out/ }
      - name: import, activate and run in an environment
        run: |
          eval "$(npx solution emulator up)"
          npx solution verify out/${name}-0.1.0.iso
          npx solution import "$PWD/out/${name}-0.1.0.iso"
          npx solution activate ${name} 0.1.0
          npx solution env create ${name}-ci
          npx solution env add ${name}-ci ${name} 0.1.0
          npx solution status
      - if: always()
        run: npx solution emulator down
`,
  );

  add(
    'README.md',
    `# ${display}

A MetalK8s Solution, described in \`solution.config.ts\` with the MetalK8s Solution SDK.

\`\`\`sh
npm install
npm test            # type-check, validate, render and pack (test/solution.test.mjs)
npm run validate    # every mistake at once, with the path to each
npm run pack        # out/${name}-0.1.0.iso and out/SHA256SUM
npx solution dev    # re-validate and repack on every save
\`\`\`

- \`solution.config.ts\`: the operator, the \`${kind}\` CRD, the images, a StorageClass, a dashboard
  (\`dashboards/overview.json\`) and alerts.
- \`images/\`: the folders the two images are built from; replace the stand-in scripts with your
  binaries (MetalK8s runs \`${name}-operator --config=/etc/config/operator.yaml\`).
- \`.github/workflows/solution.yml\`: CI that packs and runs the ISO in the MetalK8s emulator.
`,
  );

  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
