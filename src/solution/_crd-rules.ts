/**
 * What apiextensions' validation (`k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation`)
 * refuses in an `apiextensions.k8s.io/v1` CustomResourceDefinition, checked on the manifest
 * itself: the one the SDK generates from zod schemas, the one a vendor writes in YAML, and the one
 * an ISO holds (`verify`). Names, versions, printer columns, structural schemas, defaults that
 * break their own schema, and patterns Go's RE2 cannot compile. Each rule is held to the real
 * kube-apiserver by the conformance corpus (test/integration/cluster/validation-oracle.test.ts).
 *
 * CEL rules (`x-kubernetes-validations`) are parsed (syntax only, with @marcbachmann/cel-js): their
 * types (unknown fields, wrong operand types, Kubernetes' CEL libraries) and cost, and `format`
 * values, are left to the API server.
 *
 * @module
 */
import type * as CelJs from '@marcbachmann/cel-js';
import type { Issue } from '../errors.js';
import { API_VERSION_NAME_RE, DNS_SUBDOMAIN_RE, KIND_RE } from './_names.js';
import { re2Error, re2Matches } from './_regexp.js';
import type { IssueCode } from '../error-codes.js';
import { isRecord } from '../_record.js';
import { lazyModule } from './_lazy-module.js';

const cel = lazyModule<typeof CelJs>('@marcbachmann/cel-js');

type Json = Record<string, unknown>;

/** Maps a path inside the CRD manifest (`spec.names.shortNames[0]`) to the path reported. */
export type CrdPathMapper = (manifestPath: string) => string;

const DNS1035_LABEL_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const RESERVED_GROUP_SUFFIXES = ['k8s.io', 'kubernetes.io', 'metalk8s.scality.com'];
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const COLUMN_TYPES = new Set(['integer', 'number', 'string', 'boolean', 'date']);
const COLUMN_FORMATS = new Set(['int32', 'int64', 'float', 'double', 'byte', 'date', 'date-time', 'password']);
/** JSON-Schema keywords a Kubernetes structural schema refuses outright. */
const FORBIDDEN_KEYWORDS: Readonly<Record<string, string>> = {
  $ref: '$ref is not supported',
  $schema: '$schema is not supported',
  id: 'id is not supported',
  definitions: 'definitions is not supported',
  dependencies: 'dependencies is not supported',
  patternProperties: 'patternProperties is not supported',
  additionalItems: 'additionalItems is not supported',
  const: 'const is not supported: use enum with one value',
  examples: 'examples is not supported',
  if: 'if/then/else is not supported',
};

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

class Out {
  constructor(
    readonly issues: Issue[],
    readonly where: CrdPathMapper,
  ) {}
  error(code: IssueCode, at: string, message: string, hint?: string): void {
    this.issues.push({ code, path: this.where(at), message, severity: 'error', ...(hint ? { hint } : {}) });
  }
  warn(code: IssueCode, at: string, message: string, hint?: string): void {
    this.issues.push({ code, path: this.where(at), message, severity: 'warning', ...(hint ? { hint } : {}) });
  }
}

function celSyntaxError(expr: string): string | undefined {
  try {
    cel().parse(expr);
    return undefined;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).split('\n')[0];
  }
}

function dns1035(v: string): boolean {
  return v.length <= 63 && DNS1035_LABEL_RE.test(v);
}

function checkNames(spec: Json, o: Out): void {
  const names = isRecord(spec.names) ? spec.names : {};
  const group = str(spec.group) ?? '';
  if (!DNS_SUBDOMAIN_RE.test(group) || !group.includes('.'))
    o.error('CRD_GROUP_INVALID', 'spec.group', `"${group}" is not a valid API group`, 'Use a domain you own with at least one dot, e.g. zenko.io.');
  else if (RESERVED_GROUP_SUFFIXES.some((s) => group === s || group.endsWith(`.${s}`)))
    o.error('CRD_GROUP_RESERVED', 'spec.group', `"${group}" belongs to Kubernetes or MetalK8s`, 'Use your own domain.');
  const kind = str(names.kind) ?? '';
  const plural = str(names.plural) ?? '';
  if (!dns1035(kind.toLowerCase()))
    o.error('CRD_KIND_INVALID', 'spec.names.kind', `"${kind}" must be letters and digits starting with a letter (UpperCamelCase)`);
  else if (!KIND_RE.test(kind))
    o.warn('CRD_KIND_CASE', 'spec.names.kind', `"${kind}" is not UpperCamelCase: the API server takes it, but every Kubernetes kind and tool expects e.g. "Store"`, 'Capitalise each word of the kind.');
  if (!dns1035(plural)) o.error('CRD_PLURAL_INVALID', 'spec.names.plural', `"${plural}" must be a lowercase DNS-1035 label`, 'Lowercase letters, digits and dashes, starting with a letter.');
  const singular = str(names.singular);
  if (singular !== undefined && singular !== '' && !dns1035(singular))
    o.error('CRD_SINGULAR_INVALID', 'spec.names.singular', `"${singular}" must be a lowercase DNS-1035 label`, 'The API server refuses uppercase here: use the kind lowercased.');
  const listKind = str(names.listKind);
  if (listKind !== undefined && listKind !== '') {
    if (!dns1035(listKind.toLowerCase()))
      o.error('CRD_LIST_KIND_INVALID', 'spec.names.listKind', `"${listKind}" must be letters and digits starting with a letter`);
    if (listKind === kind)
      o.error('CRD_LIST_KIND_IS_KIND', 'spec.names.listKind', `listKind "${listKind}" equals the kind, which the API server refuses as ambiguous`, `Use "${kind}List".`);
  }
  const shortNames = Array.isArray(names.shortNames) ? names.shortNames : [];
  shortNames.forEach((s, i) => {
    if (typeof s !== 'string' || !dns1035(s))
      o.error('CRD_SHORT_NAME_INVALID', `spec.names.shortNames[${i}]`, `${JSON.stringify(s)} must be a lowercase DNS-1035 label`, 'kubectl matches short names in lowercase: e.g. "zk".');
  });
  const categories = Array.isArray(names.categories) ? names.categories : [];
  categories.forEach((c, i) => {
    if (typeof c !== 'string' || !dns1035(c))
      o.error('CRD_CATEGORY_INVALID', `spec.names.categories[${i}]`, `${JSON.stringify(c)} must be a lowercase DNS-1035 label (no spaces)`, 'Categories are what `kubectl get <category>` takes, e.g. "storage".');
  });
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster')
    o.error('CRD_SCOPE_INVALID', 'spec.scope', `must be "Namespaced" or "Cluster", got ${JSON.stringify(spec.scope)}`);
}

function checkVersions(spec: Json, o: Out): Json[] {
  const versions = Array.isArray(spec.versions) ? (spec.versions.filter(isRecord) as Json[]) : [];
  if (versions.length === 0) {
    o.error('CRD_VERSIONS_MISSING', 'spec.versions', 'a CRD needs at least one version');
    return versions;
  }
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const p = `spec.versions[${i}]`;
    const name = str(v.name) ?? '';
    if (!dns1035(name)) o.error('CRD_VERSION_NAME_INVALID', `${p}.name`, `"${name}" is not a DNS-1035 label, which the API server requires of version names`, 'Use v1, v1alpha1, v2beta1...');
    else if (!API_VERSION_NAME_RE.test(name))
      o.warn('CRD_VERSION_NAME_UNUSUAL', `${p}.name`, `"${name}" does not follow Kubernetes' version convention: kubectl and clients sort it after every v1/v1beta1-style version`, 'Use v1, v1alpha1, v2beta1...');
    else if (seen.has(name)) o.error('CRD_VERSION_DUPLICATE', `${p}.name`, `version "${name}" is declared twice`);
    seen.add(name);
    const cols = Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns : [];
    cols.forEach((c, ci) => {
      const cp = `${p}.additionalPrinterColumns[${ci}]`;
      if (!isRecord(c)) return;
      const jsonPath = str(c.jsonPath) ?? '';
      if (!jsonPath.startsWith('.'))
        o.error('CRD_PRINTER_COLUMN_PATH', `${cp}.jsonPath`, `"${jsonPath}" must start with "."`, 'For example .spec.replicas or .status.phase.');
      if (!COLUMN_TYPES.has(String(c.type))) o.error('CRD_PRINTER_COLUMN_TYPE', `${cp}.type`, `${JSON.stringify(c.type)} is not one of ${[...COLUMN_TYPES].join(', ')}`);
      if (c.format !== undefined && !COLUMN_FORMATS.has(String(c.format)))
        o.error('CRD_PRINTER_COLUMN_FORMAT', `${cp}.format`, `${JSON.stringify(c.format)} is not one of ${[...COLUMN_FORMATS].join(', ')}`);
      if (!str(c.name)) o.error('CRD_PRINTER_COLUMN_NAME', `${cp}.name`, 'a printer column needs a name');
    });
    const scale = isRecord(v.subresources) && isRecord(v.subresources.scale) ? v.subresources.scale : undefined;
    if (scale) {
      const sp = `${p}.subresources.scale`;
      const spec = str(scale.specReplicasPath) ?? '';
      const status = str(scale.statusReplicasPath) ?? '';
      if (!spec.startsWith('.spec.'))
        o.error('CRD_SCALE_PATH_INVALID', `${sp}.specReplicasPath`, `"${spec}" must be a JSON path under .spec`, 'For example .spec.replicas.');
      if (!status.startsWith('.status.'))
        o.error('CRD_SCALE_PATH_INVALID', `${sp}.statusReplicasPath`, `"${status}" must be a JSON path under .status`, 'For example .status.replicas.');
      const sel = str(scale.labelSelectorPath);
      if (sel !== undefined && !/^\.(spec|status)\./.test(sel))
        o.error('CRD_SCALE_PATH_INVALID', `${sp}.labelSelectorPath`, `"${sel}" must be a JSON path under .spec or .status`);
    }
  });
  const storage = versions.filter((v) => v.storage === true);
  if (storage.length !== 1)
    o.error('CRD_STORAGE_VERSION', 'spec.versions', `exactly one version must have storage: true (found ${storage.length})`, 'Mark the version objects are stored in with storage: true.');
  if (!versions.some((v) => v.served === true)) o.error('CRD_NOT_SERVED', 'spec.versions', 'no version is served');
  return versions;
}

/** Formats the API server checks string values against (the common ones of its OpenAPI format registry). */
const FORMATS: Readonly<Record<string, (v: string) => boolean>> = {
  'date-time': (v) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v.replace(' ', 'T'))),
  date: (v) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v)),
  uuid: (v) => /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/.test(v),
  ipv4: (v) => /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(v),
  byte: (v) => /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v),
};

/** Errors of `value` against a structural schema node, as the API server's defaulting validation reports them. */
function valueErrors(schema: Json, value: unknown, at: string, out: string[]): void {
  if (out.length > 3) return;
  // A null default is dropped by the API server, nullable or not.
  if (value === null) return;
  if (schema['x-kubernetes-int-or-string'] === true) {
    if (typeof value !== 'string' && !Number.isInteger(value)) out.push(`${at}: must be an integer or a string`);
    return;
  }
  const type = schema.type;
  const actual = Array.isArray(value) ? 'array' : typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
  if (type !== undefined && !(type === actual || (type === 'number' && actual === 'integer'))) {
    out.push(`${at}: must be of type ${String(type)}, got ${actual}`);
    return;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)))
    out.push(`${at}: ${JSON.stringify(value)} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  if (typeof value === 'number') {
    const min = schema.minimum;
    const max = schema.maximum;
    if (typeof min === 'number' && (schema.exclusiveMinimum === true ? value <= min : value < min))
      out.push(`${at}: ${value} must be greater than ${schema.exclusiveMinimum === true ? '' : 'or equal to '}${min}`);
    if (typeof max === 'number' && (schema.exclusiveMaximum === true ? value >= max : value > max))
      out.push(`${at}: ${value} must be less than ${schema.exclusiveMaximum === true ? '' : 'or equal to '}${max}`);
    if (typeof schema.multipleOf === 'number' && schema.multipleOf > 0 && Math.abs(value / schema.multipleOf - Math.round(value / schema.multipleOf)) > 1e-9)
      out.push(`${at}: ${value} must be a multiple of ${schema.multipleOf}`);
  }
  if (typeof value === 'string') {
    const len = [...value].length;
    if (typeof schema.minLength === 'number' && len < schema.minLength) out.push(`${at}: ${JSON.stringify(value)} is shorter than ${schema.minLength} characters`);
    if (typeof schema.maxLength === 'number' && len > schema.maxLength) out.push(`${at}: ${JSON.stringify(value)} is longer than ${schema.maxLength} characters`);
    const format = str(schema.format);
    const check = format === undefined ? undefined : FORMATS[format];
    if (check && !check(value)) out.push(`${at}: ${JSON.stringify(value)} is not of format ${format}`);
    const pattern = str(schema.pattern);
    if (pattern !== undefined && re2Error(pattern) === undefined && !re2Matches(pattern, value))
      out.push(`${at}: ${JSON.stringify(value)} does not match the pattern ${pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(`${at}: must have at least ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) out.push(`${at}: must have at most ${schema.maxItems} items`);
    const items = schema.items;
    if (isRecord(items))
      value.forEach((v, i) => {
        valueErrors(items, v, `${at}[${i}]`, out);
      });
  }
  if (isRecord(value)) {
    const props = isRecord(schema.properties) ? schema.properties : undefined;
    if (Array.isArray(schema.required))
      for (const r of schema.required) if (typeof r === 'string' && !(r in value)) out.push(`${at}.${r}: is required`);
    for (const [k, v] of Object.entries(value)) {
      const sub = props?.[k];
      if (isRecord(sub)) valueErrors(sub, v, `${at}.${k}`, out);
      else if (isRecord(schema.additionalProperties)) valueErrors(schema.additionalProperties, v, `${at}.${k}`, out);
      else if (props && schema['x-kubernetes-preserve-unknown-fields'] !== true) out.push(`${at}.${k}: is not a field of the schema (the API server prunes unknown fields and refuses such a default)`);
    }
    if (typeof schema.minProperties === 'number' && Object.keys(value).length < schema.minProperties)
      out.push(`${at}: must have at least ${schema.minProperties} properties`);
    if (typeof schema.maxProperties === 'number' && Object.keys(value).length > schema.maxProperties)
      out.push(`${at}: must have at most ${schema.maxProperties} properties`);
  }
}

function checkSchemaNode(node: Json, at: string, o: Out, ctx: { root: boolean; inJunctor: boolean; underPreserve: boolean }): void {
  for (const [k, why] of Object.entries(FORBIDDEN_KEYWORDS))
    if (k in node) o.error('CRD_SCHEMA_FORBIDDEN', `${at}.${k}`, why, 'Kubernetes accepts a subset of OpenAPI v3: see "Specifying a structural schema" in the Kubernetes docs.');
  if (node.uniqueItems === true)
    o.error('CRD_SCHEMA_FORBIDDEN', `${at}.uniqueItems`, 'uniqueItems cannot be true (quadratic cost on the API server)', 'Use x-kubernetes-list-type: set instead.');
  if (isRecord(node.properties) && isRecord(node.additionalProperties))
    o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.additionalProperties`, 'additionalProperties and properties are mutually exclusive');
  if (node['x-kubernetes-preserve-unknown-fields'] === false)
    o.error('CRD_SCHEMA_FORBIDDEN', `${at}.x-kubernetes-preserve-unknown-fields`, 'must be true or absent');
  if (Array.isArray(node.items)) o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.items`, 'items must be one schema, not an array (tuples are not structural)');

  const type = node.type;
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (ctx.inJunctor) {
    for (const k of ['type', 'default', 'nullable', 'additionalProperties', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-embedded-resource'])
      if (k in node) o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.${k}`, `${k} must not be set inside anyOf, allOf, oneOf or not (only value validations may)`);
  } else if (type === undefined || type === '') {
    if (!intOrString && !preserve)
      o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.type`, 'every field needs a type (a structural schema), or x-kubernetes-preserve-unknown-fields: true', 'Set type: object, array, string, integer, number or boolean.');
  } else if (typeof type !== 'string' || !TYPES.has(type)) {
    o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.type`, `${JSON.stringify(type)} is not one of ${[...TYPES].join(', ')}`);
  } else if (intOrString) {
    o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.type`, 'must be empty when x-kubernetes-int-or-string is true');
  }
  if (ctx.root && type !== 'object' && !ctx.inJunctor) o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.type`, 'the root of a CRD schema must be of type object');
  if (type === 'array' && !isRecord(node.items) && !Array.isArray(node.items) && !ctx.inJunctor)
    o.error('CRD_SCHEMA_NOT_STRUCTURAL', `${at}.items`, 'an array needs an items schema');
  const listType = node['x-kubernetes-list-type'];
  if (listType !== undefined) {
    if (type !== 'array') o.error('CRD_SCHEMA_LIST_TYPE', `${at}.x-kubernetes-list-type`, 'only arrays can have a list type');
    else if (!['atomic', 'set', 'map'].includes(String(listType))) o.error('CRD_SCHEMA_LIST_TYPE', `${at}.x-kubernetes-list-type`, `${JSON.stringify(listType)} is not atomic, set or map`);
    else if (listType === 'map' && !(Array.isArray(node['x-kubernetes-list-map-keys']) && node['x-kubernetes-list-map-keys'].length > 0))
      o.error('CRD_SCHEMA_LIST_TYPE', `${at}.x-kubernetes-list-map-keys`, 'a map list needs x-kubernetes-list-map-keys');
  }
  const rules = node['x-kubernetes-validations'];
  if (Array.isArray(rules))
    rules.forEach((r, i) => {
      if (!isRecord(r)) return;
      for (const field of ['rule', 'messageExpression'] as const) {
        const text = r[field];
        if (field === 'rule' && typeof text !== 'string') {
          o.error('CRD_CEL_INVALID', `${at}.x-kubernetes-validations[${i}].rule`, 'a validation rule needs a CEL expression');
          continue;
        }
        // Optional-field syntax (self.?a, [?k]) is Kubernetes CEL the parser does not know: left to the API server.
        if (typeof text !== 'string' || /\.\?|\[\?/.test(text)) continue;
        const err = celSyntaxError(text);
        if (err) o.error('CRD_CEL_INVALID', `${at}.x-kubernetes-validations[${i}].${field}`, `${JSON.stringify(text)} is not a CEL expression: ${err}`, 'The API server compiles every rule when the CRD is applied; check the syntax (https://kubernetes.io/docs/reference/using-api/cel/).');
      }
    });
  const pattern = node.pattern;
  if (pattern !== undefined) {
    const err = typeof pattern === 'string' ? re2Error(pattern) : 'not a string';
    if (err) o.error('CRD_PATTERN_NOT_RE2', `${at}.pattern`, `${JSON.stringify(pattern)} is not a regular expression Go can compile: ${err}`, 'The API server compiles patterns with Go (RE2): no lookahead (?=…), lookbehind or backreferences; write \\x{e9}, not \\u00e9.');
  }
  if ('default' in node) {
    if (ctx.root) o.error('CRD_DEFAULT_INVALID', `${at}.default`, 'the root of a CRD schema cannot have a default');
    else if (!ctx.inJunctor && !ctx.underPreserve) {
      const errs: string[] = [];
      valueErrors(node, node.default, 'default', errs);
      if (errs.length > 0)
        o.error('CRD_DEFAULT_INVALID', `${at}.default`, `the default ${JSON.stringify(node.default)} breaks its own schema (${errs.join('; ')})`, 'The API server refuses such a CRD: make the default satisfy the constraints, or drop it.');
    }
  }
  const childCtx = { root: false, inJunctor: ctx.inJunctor, underPreserve: ctx.underPreserve || preserve };
  if (isRecord(node.properties)) for (const [k, v] of Object.entries(node.properties)) if (isRecord(v)) checkSchemaNode(v, `${at}.properties.${k}`, o, childCtx);
  if (isRecord(node.additionalProperties)) checkSchemaNode(node.additionalProperties, `${at}.additionalProperties`, o, childCtx);
  if (isRecord(node.items)) checkSchemaNode(node.items, `${at}.items`, o, childCtx);
  for (const j of ['anyOf', 'allOf', 'oneOf'] as const)
    if (Array.isArray(node[j]))
      node[j].forEach((s, i) => {
        if (isRecord(s)) checkSchemaNode(s, `${at}.${j}[${i}]`, o, { ...childCtx, inJunctor: true });
      });
  if (isRecord(node.not)) checkSchemaNode(node.not, `${at}.not`, o, { ...childCtx, inJunctor: true });
}

function checkRootSchema(schema: Json, at: string, o: Out): void {
  checkSchemaNode(schema, at, o, { root: true, inJunctor: false, underPreserve: false });
  const meta = isRecord(schema.properties) ? schema.properties.metadata : undefined;
  if (isRecord(meta)) {
    const extra = Object.keys(meta).filter((k) => !['type', 'properties', 'description'].includes(k));
    const props = isRecord(meta.properties) ? Object.keys(meta.properties).filter((k) => k !== 'name' && k !== 'generateName') : [];
    if (extra.length > 0 || props.length > 0 || (meta.type !== undefined && meta.type !== 'object'))
      o.error('CRD_METADATA_SCHEMA', `${at}.properties.metadata`, `may only be { type: object } with restrictions on name and generateName (found ${[...extra, ...props.map((p) => `properties.${p}`)].join(', ') || `type ${String(meta.type)}`})`, 'Remove the metadata schema: the API server validates object metadata itself.');
  }
}

/**
 * Checks an `apiextensions.k8s.io/v1` CRD manifest the way the API server does, pushing issues
 * whose paths `where` maps from manifest paths.
 */
export function checkCrdManifest(manifest: Json, where: CrdPathMapper, issues: Issue[]): void {
  const o = new Out(issues, where);
  const spec = isRecord(manifest.spec) ? manifest.spec : {};
  checkNames(spec, o);
  const versions = checkVersions(spec, o);
  versions.forEach((v, i) => {
    const p = `spec.versions[${i}].schema.openAPIV3Schema`;
    const schema = isRecord(v.schema) && isRecord(v.schema.openAPIV3Schema) ? v.schema.openAPIV3Schema : undefined;
    if (!schema) {
      o.error('CRD_SCHEMA_MISSING', `spec.versions[${i}].schema`, 'apiextensions.k8s.io/v1 requires a schema for every version', 'Add schema.openAPIV3Schema, at least { type: object, x-kubernetes-preserve-unknown-fields: true }.');
      return;
    }
    checkRootSchema(schema, p, o);
  });
}

/**
 * The path mapper of a CRD given as typed versions: manifest paths become the vendor's fields
 * (`crds[0].shortNames[1]`, `crds[0].versions[0].spec.replicas.default` for zod schemas).
 */
export function typedCrdPaths(prefix: string, zodVersions: readonly boolean[]): CrdPathMapper {
  return (mp) => {
    let m = /^spec\.names\.(.*)$/.exec(mp);
    if (m) return `${prefix}.${m[1]}`;
    if (mp === 'spec.group' || mp === 'spec.scope') return `${prefix}.${mp.slice(5)}`;
    m = /^spec\.versions\[(\d+)\]\.schema\.openAPIV3Schema(.*)$/.exec(mp);
    if (m) {
      const vi = Number(m[1]);
      const rest = m[2] ?? '';
      if (!zodVersions[vi]) return `${prefix}.versions[${vi}].openAPIV3Schema${rest}`;
      const sm = /^\.properties\.(spec|status)(.*)$/.exec(rest);
      if (!sm) return `${prefix}.versions[${vi}]`;
      const inner = (sm[2] ?? '').replace(/\.properties\.([^.[]+)/g, '.$1').replace(/\.items/g, '[]').replace(/\.additionalProperties/g, '.*');
      return `${prefix}.versions[${vi}].${sm[1]}${inner}`;
    }
    m = /^spec\.versions(.*)$/.exec(mp);
    if (m) return `${prefix}.versions${(m[1] ?? '').replace('.additionalPrinterColumns', '.printerColumns')}`;
    return `${prefix}.manifest.${mp}`;
  };
}
