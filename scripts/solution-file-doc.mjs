// Turns the solution file's JSON Schema into docs/solution-file.md: one table per object, by path.

function typeOf(s) {
  if (!s || typeof s !== 'object') return 'any';
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if ('const' in s) return `\`${JSON.stringify(s.const)}\``;
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf).map(typeOf).join(' \\| ');
  if (s.type === 'array') {
    const t = typeOf(s.items);
    return t.includes('|') ? `(${t})[]` : `${t}[]`;
  }
  if (s.type === 'object' && s.additionalProperties && !s.properties) return `map of ${typeOf(s.additionalProperties)}`;
  if (Array.isArray(s.type)) return s.type.join(' \\| ');
  return s.type ?? 'any';
}

function objectsIn(s) {
  if (!s || typeof s !== 'object') return [];
  if (s.type === 'object' && s.properties) return [s];
  if (s.type === 'array') return objectsIn(s.items);
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf).flatMap(objectsIn);
  return [];
}

function section(path, s, out) {
  const variants = objectsIn(s);
  variants.forEach((obj, i) => {
    const kind = obj.properties?.kind?.const;
    const title = variants.length > 1 ? `${path} (${kind ? `kind: ${kind}` : `form ${i + 1}`})` : path;
    out.push(`## \`${title}\``, '');
    if (obj.description) out.push(obj.description, '');
    out.push('| Field | Type | Required | Description |', '|---|---|---|---|');
    const required = new Set(obj.required ?? []);
    for (const [k, v] of Object.entries(obj.properties)) {
      const desc = [v.description, v.default !== undefined ? `Default: \`${JSON.stringify(v.default)}\`.` : '']
        .filter(Boolean)
        .join(' ')
        .replace(/\|/g, '\\|')
        .replace(/\n/g, ' ');
      out.push(`| \`${k}\` | ${typeOf(v)} | ${required.has(k) ? 'yes' : ''} | ${desc} |`);
    }
    out.push('');
    for (const [k, v] of Object.entries(obj.properties)) {
      const sub = v.type === 'array' ? `${path === '(root)' ? '' : `${path}.`}${k}[]` : `${path === '(root)' ? '' : `${path}.`}${k}`;
      section(sub, v, out);
    }
  });
}

/** Markdown reference of a solution file, from its JSON Schema. */
export function renderSolutionFileDoc(schema) {
  const out = [
    '---',
    'title: Solution file reference',
    '---',
    '',
    '# Solution file reference',
    '',
    '<!-- Generated from schema/solution.schema.json by `npm run schema`. Do not edit by hand. -->',
    '',
    'A solution is described in `solution.config.ts` (with `defineSolution`), or in',
    '`solution.config.yaml` / `.json` with the same fields. In YAML or JSON, add',
    '`$schema: ./node_modules/metalk8s-solution-sdk/schema/solution.schema.json` for editor completion.',
    'Paths in the definition (image build files, archives) are relative to the solution file.',
    '',
    'YAML files are read as YAML 1.1, as MetalK8s reads its own files: `1.10` is the number 1.1,',
    '`1.0` the number 1, `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0755` is octal (493). Quote',
    'versions and tags (`version: "1.10.0"`); the loader says so when a number or a boolean stands',
    'where a string is needed (`NUMBER_NOT_STRING`, `BOOLEAN_NOT_STRING`). File modes: `0o755` in',
    'TypeScript, `0755` or `"0755"` in YAML, `"0755"` in JSON (a decimal such as 493 is accepted;',
    '`755` as a decimal number is refused with `BUILD_MODE_DECIMAL`). JSON syntax errors give the',
    'line and column.',
    '',
  ];
  section('(root)', schema, out);
  return `${out.join('\n').trimEnd()}\n`;
}
