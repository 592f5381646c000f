import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackagingError, ValidationError } from '../../../src/errors.js';
import { loadSolutionFile } from '../../../src/packaging/solution-file.js';
import { toImageSource } from '../../../src/packaging/pack.js';

// YAML and JSON solution files: modes in the forms people write, numbers YAML reads where a
// string is meant, and syntax errors with their line and column.
let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sdk-solution-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(ext: 'yaml' | 'json', text: string) {
  const file = join(dir, `s${n++}.solution.config.${ext}`);
  await writeFile(file, text);
  return loadSolutionFile(file);
}

const yamlWith = (mode: string, version = '"1.0.0"') =>
  `name: acme\nversion: ${version}\noperator: {image: acme-operator}\nimages:\n- name: acme-operator\n  tag: "1.0.0"\n  source:\n    kind: build\n    layers:\n    - files:\n      - {path: /usr/bin/acme-operator, content: "x", mode: ${mode}}\n`;

async function modeOf(ext: 'yaml' | 'json', text: string): Promise<number | undefined> {
  const { solution } = await load(ext, text);
  const src = toImageSource(solution.definition.images[0]!.source, dir, '1970-01-01T00:00:00Z', 'linux/amd64');
  const layer = src.kind === 'build' ? src.build.layers[0] : undefined;
  return layer && 'files' in layer ? layer.files[0]?.mode : undefined;
}

const issuesOf = async (p: Promise<unknown>) => {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  return (err as ValidationError).issues;
};

describe('modes in YAML and JSON', () => {
  it('accepts the octal forms: YAML 0755, the strings "0755", "0o755" and "755", JSON "0755"', async () => {
    expect(await modeOf('yaml', yamlWith('0755'))).toBe(0o755);
    expect(await modeOf('yaml', yamlWith('"0755"'))).toBe(0o755);
    expect(await modeOf('yaml', yamlWith('"0o750"'))).toBe(0o750);
    expect(await modeOf('yaml', yamlWith('"640"'))).toBe(0o640);
    const json = JSON.stringify({
      name: 'acme',
      version: '1.0.0',
      operator: { image: 'acme-operator' },
      images: [{ name: 'acme-operator', tag: '1.0.0', source: { kind: 'build', layers: [{ files: [{ path: '/usr/bin/acme-operator', content: 'x', mode: '0755' }] }] } }],
    });
    expect(await modeOf('json', json)).toBe(0o755);
    // Decimal numbers that are plausible modes stay accepted (493 is 0o755).
    expect(await modeOf('json', json.replace('"0755"', '493'))).toBe(0o755);
  });

  it('refuses a decimal 755 (which would ship --wxrw--wt), 0o755 unquoted in YAML 1.1, and impossible values', async () => {
    const decimal = await issuesOf(load('yaml', yamlWith('755')));
    expect(decimal).toContainEqual(expect.objectContaining({ code: 'BUILD_MODE_DECIMAL', path: 'images[0].source.layers[0].files[0].mode' }));
    expect(decimal.find((i) => i.code === 'BUILD_MODE_DECIMAL')?.hint).toMatch(/0755 or "0755" in YAML/);
    // YAML 1.1 has no 0o prefix: the value is the string "0o755", which is accepted as octal.
    expect(await modeOf('yaml', yamlWith('0o755'))).toBe(0o755);
    const huge = await issuesOf(load('yaml', yamlWith('99999')));
    expect(huge.map((i) => i.code)).toContain('BUILD_MODE_INVALID');
    const word = await issuesOf(load('yaml', yamlWith('"rwxr-xr-x"')));
    expect(word.map((i) => i.path)).toContain('images[0].source.layers[0].files[0].mode');
  });
});

describe('values YAML reads as something else', () => {
  it('version: 1.10 is explained: YAML read it as the number 1.1, quote it', async () => {
    const issues = await issuesOf(load('yaml', yamlWith('0755', '1.10')));
    const v = issues.find((i) => i.path === 'version');
    expect(v?.code).toBe('NUMBER_NOT_STRING');
    expect(v?.message).toBe('YAML reads 1.10 as the number 1.1 (the trailing digits are lost), and a string is needed here');
    expect(v?.hint).toBe('Quote it: version: "1.10".');
  });

  it('a YAML 1.1 boolean (content: yes) is explained too', async () => {
    const issues = await issuesOf(load('yaml', yamlWith('0755').replace('content: "x"', 'content: yes')));
    expect(issues).toContainEqual(expect.objectContaining({ code: 'BOOLEAN_NOT_STRING', message: 'YAML reads yes as the boolean true, and a string is needed here' }));
  });
});

describe('syntax errors', () => {
  it('JSON: the line and column of the error', async () => {
    const err = await load('json', '{\n  "name": "acme",\n  "version" "1.0.0"\n}\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PackagingError);
    expect((err as PackagingError).code).toBe('SOLUTION_FILE_SYNTAX');
    expect((err as PackagingError).message).toMatch(/\.json:3:13 is not valid JSON/);
  });

  it('YAML: the line and column of the error', async () => {
    const err = await load('yaml', 'name: acme\nversion: "1.0.0\noperator: x\n').catch((e: unknown) => e);
    expect((err as PackagingError).code).toBe('SOLUTION_FILE_SYNTAX');
    expect((err as PackagingError).message).toMatch(/at line \d+, column \d+/);
  });
});
