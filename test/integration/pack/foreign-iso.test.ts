import { appendFile, mkdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImage, openBlobStore, parsePlatform, planRegistryLayout, writeLayout } from '../../../src/packaging/images/index.js';
import { inspect } from '../../../src/packaging/inspect.js';
import { toImageSource } from '../../../src/packaging/pack.js';
import { loadSolutionFile } from '../../../src/packaging/solution-file.js';
import { verify } from '../../../src/packaging/verify.js';
import { render } from '../../../src/solution/render.js';
import { EPOCH, EXAMPLE, sh, solution, tempDir } from './_pack.js';

// ISOs built the MetalK8s way (genisoimage with the example Makefile's flags) from a tree the
// SDK laid out: verify checks them as far as they allow (no /sdk/index.json).
let dir: string;
let tree: string;

/** genisoimage with MetalK8s' flags (metalk8s-reference.md §1.1), plus extra flags. */
function mkisofs(root: string, out: string, extra: string[] = []): void {
  const r = sh('genisoimage', [
    '-output', out, '-quiet', '-rock', '-joliet', '-joliet-long', '-full-iso9660-filenames',
    '-volid', 'Zenko 2.6.0', '-iso-level', '3', '-gid', '0', '-uid', '0',
    '-input-charset', 'utf-8', '-output-charset', 'utf-8', ...extra, root,
  ]);
  if (r.status !== 0) throw new Error(`genisoimage failed: ${r.stderr}`);
}

beforeAll(async () => {
  dir = await tempDir('foreign');
  tree = join(dir, 'root');
  const { solution: sol, baseDir } = await loadSolutionFile(EXAMPLE);
  const when = new Date(EPOCH * 1000);
  const rendered = render(sol, { buildTimestamp: when });
  const store = await openBlobStore({ dir: join(dir, 'store') });
  const images = [];
  for (const img of rendered.images) {
    const image = await fetchImage(toImageSource(img.source, baseDir, when.toISOString().replace(/\.\d{3}Z$/, 'Z'), img.platform), { store, platform: parsePlatform(img.platform) });
    images.push({ name: img.name, tag: img.tag, image });
  }
  await writeLayout(await planRegistryLayout(images, { store }), tree);
  for (const [p, bytes] of rendered.files) {
    await mkdir(dirname(join(tree, p)), { recursive: true });
    await writeFile(join(tree, p), bytes);
  }
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verify on ISOs built by genisoimage', () => {
  it('a well-formed tree passes, with a warning that there is no SDK index', async () => {
    const iso = join(dir, 'good.iso');
    mkisofs(tree, iso);
    const r = await verify({ path: iso });
    expect(r.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.indexed).toBe(false);
    expect(r.issues.map((i) => i.code).sort()).toEqual(['CHECKSUM_FILE_MISSING', 'SDK_INDEX_MISSING']);
    expect(r.blobsChecked).toBe(18);
    const info = await inspect({ path: iso });
    expect(info.build).toBeUndefined();
    expect(info.images.map((i) => `${i.name}:${i.tag}`)).toEqual(['backbeat:8.6.49', 'cloudserver:8.8.45', 'kafka:3.7.0', 'mongodb:6.0.13', 'redis:7.2.4', 'zenko-operator:2.6.0']);
    expect(info.crds.map((c) => c.name)).toEqual(['zenkos.zenko.io', 'zenkoversions.zenko.io']);
  });

  it('reports every MetalK8s rule a broken tree breaks, with its path', async () => {
    const broken = join(dir, 'broken');
    expect(sh('cp', ['-a', tree, broken]).status).toBe(0);
    const at = (p: string) => join(broken, p);
    const manifest = (await readFile(at('manifest.yaml'), 'utf8')).replace('kind: Solution', 'kind: Product').replace('name: zenko', 'name: metalk8s-zenko');
    await writeFile(at('manifest.yaml'), manifest);
    const redis = JSON.parse(await readFile(at('images/redis/7.2.4/manifest.json'), 'utf8'));
    await unlink(at('images/redis/7.2.4/manifest.json'));
    await writeFile(at('images/redis/7.2.4/manifest.json'), JSON.stringify({ ...redis, mediaType: 'application/vnd.oci.image.manifest.v1+json' }));
    const kafka = JSON.parse(await readFile(at('images/kafka/3.7.0/manifest.json'), 'utf8'));
    const kafkaConfig = kafka.config.digest.slice(7);
    await unlink(at(`images/kafka/3.7.0/${kafkaConfig}`));
    const crds = 'operator/deploy/crds';
    await appendFile(at(`${crds}/zenko.io_zenkos_crd.yaml`), '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n');
    const versions = (await readFile(at(`${crds}/zenko.io_zenkoversions_crd.yaml`), 'utf8')).replace('description: The component images', 'description: "{{ release }} component images');
    await unlink(at(`${crds}/zenko.io_zenkoversions_crd.yaml`));
    await writeFile(at(`${crds}/zenko.io_zenkoversions_crd.yaml`), versions.replace('Zenko release.', 'Zenko release."'));
    await writeFile(at(`${crds}/README.md`), 'CRDs of Zenko\n');
    await writeFile(at(`${crds}/config_crd.yaml`), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-a-crd\n');
    await appendFile(at('operator/deploy/role.yaml'), '---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: x\n');
    await appendFile(at('registry-config.inc.j2'), '\n{% if debug %}\nlocation /debug { return 200; }\n{% endif %}\n');
    const iso = join(dir, 'broken.iso');
    mkisofs(broken, iso);
    const r = await verify({ path: iso });
    expect(r.ok).toBe(false);
    const found = r.issues.map((i) => `${i.severity} ${i.code} ${i.path}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'error MANIFEST_KIND manifest.yaml',
        'error SOLUTION_NAME_RESERVED manifest.yaml',
        'error IMAGE_MANIFEST_NOT_V2S2 images/redis/7.2.4/manifest.json',
        `error IMAGE_BLOB_MISSING images/kafka/3.7.0/${kafkaConfig}`,
        `error CRD_DOCUMENT_COUNT ${crds}/zenko.io_zenkos_crd.yaml`,
        `error CRD_JINJA_SYNTAX ${crds}/zenko.io_zenkoversions_crd.yaml`,
        `error CRD_NOT_A_CRD ${crds}/config_crd.yaml`,
        `warning CRD_FILE_IGNORED ${crds}/README.md`,
        'error ROLE_KIND_FORBIDDEN operator/deploy/role.yaml',
        'error REGISTRY_CONFIG_NOT_JINJA_SAFE registry-config.inc.j2',
      ]),
    );
    // redis is no longer served: spec.images still lists it.
    expect(found).toContain('error IMAGE_LISTED_MISSING manifest.yaml');
    expect(r.issues.find((i) => i.code === 'ROLE_KIND_FORBIDDEN')!.message).toContain('Forbidden object kind');
    expect(r.issues.find((i) => i.code === 'REGISTRY_CONFIG_NOT_JINJA_SAFE')!.message).toMatch(/^line \d+ holds Jinja syntax "\{%"/);
    const cli = solution('verify', iso);
    expect(cli.status).toBe(1);
    expect(cli.stdout).toContain('[IMAGE_BLOB_MISSING]');
    expect(cli.stdout).toContain('hint:');
  });

  it('an ISO built with -N (no ;1 versions) is refused: MetalK8s could not read MANIFEST.YAML;1', async () => {
    const noversion = join(dir, 'noversion');
    expect(sh('cp', ['-a', tree, noversion]).status).toBe(0);
    await rename(join(noversion, 'registry-config.inc.j2'), join(noversion, 'registry-config.inc'));
    const iso = join(dir, 'noversion.iso');
    mkisofs(noversion, iso, ['-N']);
    // isoinfo, as MetalK8s runs it, prints nothing.
    expect(sh('isoinfo', ['-x', '/MANIFEST.YAML;1', '-i', iso]).stdout).toBe('');
    const r = await verify({ path: iso });
    const codes = r.issues.filter((i) => i.severity === 'error').map((i) => i.code);
    expect(codes).toEqual(['MANIFEST_NOT_IN_PRIMARY', 'REGISTRY_CONFIG_MISSING']);
    expect(r.issues.find((i) => i.code === 'REGISTRY_CONFIG_MISSING')!.message).toContain('registry-config.inc, which MetalK8s does not read');
  });
});
