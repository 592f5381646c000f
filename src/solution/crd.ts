/**
 * Typed CustomResourceDefinitions: the vendor writes a zod schema of the custom resource's spec
 * (and status); the SDK generates the structural `openAPIV3Schema` Kubernetes requires, and the
 * vendor gets the TypeScript type of the resource for free (`CustomResource<typeof MyCrd>`).
 *
 * @module
 */
import { z } from 'zod';
import type { Issue } from '../errors.js';
import { re2Error } from './_regexp.js';
import type { ObjectMeta } from './kubernetes-object.js';
import type { CrdInput } from './schema.js';

/** A printer column of a CRD version (`kubectl get` output). */
export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

/** One version of a typed CRD. */
export interface CrdVersionDefinition<Spec extends z.ZodType = z.ZodType, Status extends z.ZodType = z.ZodType> {
  /** Version name, e.g. `v1alpha1`. */
  readonly name: string;
  /** @default true */
  readonly served?: boolean;
  /** Exactly one version stores objects. @default true when there is only one version */
  readonly storage?: boolean;
  readonly deprecated?: boolean;
  /** zod schema of `spec`. */
  readonly spec: Spec;
  /** zod schema of `status`. */
  readonly status?: Status;
  readonly printerColumns?: readonly PrinterColumn[];
  /** @default `{ status: true }` when a status schema is given */
  readonly subresources?: {
    readonly status?: boolean;
    readonly scale?: { readonly specReplicasPath: string; readonly statusReplicasPath: string; readonly labelSelectorPath?: string };
  };
}

/** Options of {@link defineCrd}. */
export interface CrdDefinitionOptions<
  V extends readonly CrdVersionDefinition[],
  G extends string = string,
  K extends string = string,
> {
  /** API group, e.g. `zenko.io`. */
  readonly group: G;
  /** Kind, UpperCamelCase, e.g. `Zenko`. */
  readonly kind: K;
  /** @default kind lowercased + "s" */
  readonly plural?: string;
  /** @default kind lowercased */
  readonly singular?: string;
  /** @default kind + "List" */
  readonly listKind?: string;
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  /** @default "Namespaced" */
  readonly scope?: 'Namespaced' | 'Cluster';
  /** Description of the resource, put on the schema root. */
  readonly description?: string;
  readonly versions: V;
}

/** A typed CRD, as returned by {@link defineCrd}. */
export type CrdDefinition<
  V extends readonly CrdVersionDefinition[] = readonly CrdVersionDefinition[],
  G extends string = string,
  K extends string = string,
> = CrdDefinitionOptions<V, G, K>;

type Schema<T, Mode extends 'output' | 'input'> = T extends z.ZodType ? (Mode extends 'input' ? z.input<T> : z.output<T>) : unknown;

// Distributes over the union of the CRD's versions, so each apiVersion keeps its own spec.
type ResourceOfVersion<C extends CrdDefinition, V, Version extends string, Mode extends 'output' | 'input'> = V extends {
  readonly name: infer N extends string;
  readonly spec: infer S;
}
  ? N extends Version
    ? {
        apiVersion: `${C['group']}/${N}`;
        kind: C['kind'];
        metadata: ObjectMeta;
        spec: Schema<S, Mode>;
        status?: (V extends { readonly status?: infer St } ? Schema<St, Mode> : unknown) | undefined;
      }
    : never
  : never;

type ResourceOf<C extends CrdDefinition, Version extends string, Mode extends 'output' | 'input'> = ResourceOfVersion<
  C,
  C['versions'][number],
  Version,
  Mode
>;

/**
 * The TypeScript type of a custom resource of a CRD defined with {@link defineCrd}, for one of
 * its versions (by default any of them), as read from the cluster: fields with a `default()`
 * are present (the API server applies the CRD's defaults).
 *
 * @example
 * type Zenko = CustomResource<typeof ZenkoCrd>;
 * const z: Zenko = { apiVersion: 'zenko.io/v1alpha2', kind: 'Zenko', metadata: { name: 'z' }, spec: { replicas: 3 } };
 */
export type CustomResource<C extends CrdDefinition, Version extends string = string> = ResourceOf<C, Version, 'output'>;

/**
 * A custom resource as written to the cluster (in a test, a fixture, a manifest): fields with a
 * `default()` in the schema are optional, since the API server fills them in.
 *
 * @example
 * const zenko: CustomResourceInput<typeof ZenkoCrd> = {
 *   apiVersion: 'zenko.io/v1alpha2',
 *   kind: 'Zenko',
 *   metadata: { name: 'z', finalizers: ['zenko.io/cleanup'] },
 *   spec: { version: '2.6.0' }, // replicas has a default
 * };
 */
export type CustomResourceInput<C extends CrdDefinition, Version extends string = string> = ResourceOf<C, Version, 'input'>;

/**
 * Declares a CRD from zod schemas of its custom resource. Pure: returns the definition, which
 * `defineSolution({ crds: [...] })` validates and `render()` turns into a CRD manifest.
 *
 * @example
 * const ZenkoCrd = defineCrd({
 *   group: 'zenko.io',
 *   kind: 'Zenko',
 *   versions: [{ name: 'v1alpha2', spec: z.object({ replicas: z.number().int().min(1) }) }] as const,
 * });
 */
export function defineCrd<const V extends readonly CrdVersionDefinition[], const G extends string, const K extends string>(
  options: CrdDefinitionOptions<V, G, K>,
): CrdDefinition<V, G, K> {
  return options;
}

/** The pieces of a CRD that other checks and the renderer need. */
export interface CrdInfo {
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  readonly versions: readonly string[];
  readonly manifest: Record<string, unknown>;
}

/** A JSON object. */
export type Json = Record<string, unknown>;

/**
 * Converts a JSON Schema produced by `z.toJSONSchema` into a Kubernetes structural schema:
 * no `$schema`, `additionalProperties` only without `properties`, nullable instead of
 * `[type, null]`, integer bounds that Kubernetes accepts, unions of one type collapsed.
 * Shapes Kubernetes cannot express are reported as issues at `path`.
 *
 * @example
 * ```ts
 * const issues: Issue[] = [];
 * const schema = toStructuralSchema(z.toJSONSchema(z.object({ replicas: z.number().int() })), 'crds[0].spec', issues);
 * ```
 */
export function toStructuralSchema(schema: Json, path: string, issues: Issue[]): Json {
  const out: Json = {};
  const unsupported = (what: string) =>
    issues.push({
      code: 'CRD_SCHEMA_UNSUPPORTED',
      path,
      message: `${what} cannot be expressed in a Kubernetes structural schema`,
      severity: 'error',
      hint: 'Use plain objects, arrays, strings, numbers, booleans, enums, records and optional or nullable fields.',
    });

  let type = schema.type;
  let source = schema;
  const anyOf = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (Array.isArray(anyOf)) {
    const nonNull = anyOf.filter((s) => s.type !== 'null');
    if (nonNull.length < anyOf.length) out.nullable = true;
    const types = new Set(nonNull.map((s) => s.type));
    if (nonNull.length === 1 && nonNull[0]) {
      source = { ...nonNull[0], description: schema.description ?? nonNull[0].description, default: schema.default };
      type = source.type;
    } else if (types.size === 2 && types.has('string') && (types.has('integer') || types.has('number'))) {
      out['x-kubernetes-int-or-string'] = true;
      if (schema.description) out.description = schema.description;
      return out;
    } else if (nonNull.every((s) => s.type === 'string' && (Array.isArray(s.enum) || 'const' in s))) {
      const values = nonNull.flatMap((s) => (Array.isArray(s.enum) ? s.enum : [s.const]));
      source = { type: 'string', enum: values, description: schema.description };
      type = 'string';
    } else {
      unsupported('a union of different shapes');
      return { 'x-kubernetes-preserve-unknown-fields': true };
    }
  }
  if (Array.isArray(type)) {
    const nonNull = type.filter((t) => t !== 'null');
    if (nonNull.length < type.length) out.nullable = true;
    if (nonNull.length !== 1) {
      unsupported(`a value of several types (${nonNull.join(', ')})`);
      return { 'x-kubernetes-preserve-unknown-fields': true };
    }
    type = nonNull[0];
  }
  if ('const' in source && type === undefined) type = typeof source.const;
  if (Array.isArray(source.enum) && type === undefined) type = typeof source.enum[0];

  if (typeof source.description === 'string') out.description = source.description;
  switch (type) {
    case 'object': {
      out.type = 'object';
      const props = source.properties as Record<string, Json> | undefined;
      if (props && Object.keys(props).length > 0) {
        const properties: Json = {};
        for (const [k, v] of Object.entries(props)) properties[k] = toStructuralSchema(v, `${path}.${k}`, issues);
        out.properties = properties;
        if (Array.isArray(source.required) && source.required.length > 0) out.required = source.required;
      } else if (source.additionalProperties && typeof source.additionalProperties === 'object') {
        out.additionalProperties = toStructuralSchema(source.additionalProperties as Json, `${path}.*`, issues);
      } else {
        out['x-kubernetes-preserve-unknown-fields'] = true;
      }
      break;
    }
    case 'array': {
      out.type = 'array';
      if (source.items && typeof source.items === 'object' && !Array.isArray(source.items)) {
        out.items = toStructuralSchema(source.items as Json, `${path}[]`, issues);
      } else {
        unsupported('an array without a single item type (a tuple?)');
        out.items = { 'x-kubernetes-preserve-unknown-fields': true };
      }
      if (typeof source.minItems === 'number') out.minItems = source.minItems;
      if (typeof source.maxItems === 'number') out.maxItems = source.maxItems;
      break;
    }
    case 'string':
      out.type = 'string';
      for (const k of ['pattern', 'minLength', 'maxLength', 'format'] as const) if (k in source) out[k] = source[k];
      // zod writes its own pattern next to a format (z.string().email(), z.hostname()...); some
      // use lookahead, which Go's RE2 cannot compile. The format stays: the API server checks it.
      if (typeof source.format === 'string' && typeof source.pattern === 'string' && re2Error(source.pattern) !== undefined) delete out.pattern;
      // z.string().email().regex(/…/) and other stacked checks: zod writes them as allOf, which
      // a structural schema keeps as long as it only holds value validations.
      if (Array.isArray(source.allOf)) {
        const parts = (source.allOf as Json[]).map((a) => Object.fromEntries(['pattern', 'minLength', 'maxLength', 'format'].filter((k) => k in a).map((k) => [k, a[k]])));
        if (parts.some((x) => Object.keys(x).length > 0)) out.allOf = parts.filter((x) => Object.keys(x).length > 0);
      }
      if (Array.isArray(source.enum)) out.enum = source.enum;
      else if ('const' in source) out.enum = [source.const];
      break;
    case 'integer':
    case 'number': {
      out.type = type;
      if (type === 'integer') out.format = 'int64';
      for (const k of ['minimum', 'maximum'] as const) {
        const v = source[k];
        // zod's safe-integer bounds are implementation detail, not a vendor constraint.
        if (typeof v === 'number' && Math.abs(v) !== Number.MAX_SAFE_INTEGER) out[k] = v;
      }
      if (typeof source.exclusiveMinimum === 'number') {
        out.minimum = source.exclusiveMinimum;
        out.exclusiveMinimum = true;
      }
      if (typeof source.exclusiveMaximum === 'number') {
        out.maximum = source.exclusiveMaximum;
        out.exclusiveMaximum = true;
      }
      if (Array.isArray(source.enum)) out.enum = source.enum;
      break;
    }
    case 'boolean':
      out.type = 'boolean';
      break;
    case undefined:
      out['x-kubernetes-preserve-unknown-fields'] = true;
      break;
    default:
      unsupported(`type ${JSON.stringify(type)}`);
      out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if ('default' in source && source.default !== undefined) out.default = source.default;
  return out;
}

function isZodType(v: unknown): v is z.ZodType {
  // Duck-typed as well: a vendor's build may hold a second copy of zod 4.
  return v instanceof z.ZodType || (typeof v === 'object' && v !== null && '_zod' in v && 'safeParse' in v);
}

function schemaOf(v: unknown, path: string, issues: Issue[]): Json | undefined {
  if (v === undefined) return undefined;
  if (!isZodType(v)) {
    issues.push({
      code: 'CRD_SCHEMA_NOT_ZOD',
      path,
      message: 'must be a zod schema',
      severity: 'error',
      hint: 'Pass `z.object({...})`, or use `openAPIV3Schema` in YAML or JSON solution files.',
    });
    return undefined;
  }
  try {
    const json = z.toJSONSchema(v, { io: 'input', unrepresentable: 'throw' }) as Json;
    delete json.$schema;
    return toStructuralSchema(json, path, issues);
  } catch (err) {
    issues.push({
      code: 'CRD_SCHEMA_UNSUPPORTED',
      path,
      message: `cannot be turned into an OpenAPI schema: ${err instanceof Error ? err.message : String(err)}`,
      severity: 'error',
      hint: 'Avoid transforms, custom types, dates and functions in CRD schemas.',
    });
    return undefined;
  }
}

/**
 * Builds the `apiextensions.k8s.io/v1` CustomResourceDefinition of a CRD input, reporting
 * problems as issues under `path`. Pure.
 *
 * @example
 * ```ts
 * const issues: Issue[] = [];
 * const info = buildCrd(ZenkoCrd, 'crds[0]', issues); // info?.manifest is the CustomResourceDefinition
 * ```
 */
export function buildCrd(input: CrdInput, path: string, issues: Issue[]): CrdInfo | undefined {
  if ('manifest' in input) {
    const m = input.manifest as Json;
    const spec = (m.spec ?? {}) as Json;
    const names = (spec.names ?? {}) as Json;
    const versions = Array.isArray(spec.versions) ? (spec.versions as Json[]) : [];
    if (m.apiVersion !== 'apiextensions.k8s.io/v1' || m.kind !== 'CustomResourceDefinition') {
      issues.push({
        code: 'CRD_MANIFEST_INVALID',
        path: `${path}.manifest`,
        message: `must be an apiextensions.k8s.io/v1 CustomResourceDefinition (got ${String(m.apiVersion)} ${String(m.kind)})`,
        severity: 'error',
        hint: 'Convert v1beta1 CRDs to apiextensions.k8s.io/v1; v1beta1 is gone since Kubernetes 1.22.',
      });
      return undefined;
    }
    if (typeof spec.group !== 'string' || typeof names.kind !== 'string' || typeof names.plural !== 'string' || versions.length === 0) {
      issues.push({
        code: 'CRD_MANIFEST_INVALID',
        path: `${path}.manifest.spec`,
        message: 'needs spec.group, spec.names.kind, spec.names.plural and at least one version',
        severity: 'error',
      });
      return undefined;
    }
    const expected = `${names.plural}.${spec.group}`;
    const meta = (m.metadata ?? {}) as Json;
    if (meta.name !== expected) {
      issues.push({
        code: 'CRD_NAME_MISMATCH',
        path: `${path}.manifest.metadata.name`,
        message: `must be "${expected}" (<plural>.<group>), got ${JSON.stringify(meta.name)}`,
        severity: 'error',
      });
    }
    return {
      group: spec.group,
      kind: names.kind,
      plural: names.plural,
      versions: versions.map((v) => String(v.name)),
      manifest: m,
    };
  }

  const plural = input.plural ?? `${input.kind.toLowerCase()}s`;
  const singleVersion = input.versions.length === 1;
  const versions = input.versions.map((v, i) => {
    const vPath = `${path}.versions[${i}]`;
    const specSchema = schemaOf(v.spec, `${vPath}.spec`, issues);
    const statusSchema = schemaOf(v.status, `${vPath}.status`, issues);
    let openAPIV3Schema: Json;
    if (v.openAPIV3Schema) {
      openAPIV3Schema =
        input.description && v.openAPIV3Schema.description === undefined
          ? { ...v.openAPIV3Schema, description: input.description }
          : v.openAPIV3Schema;
      if (v.spec !== undefined) {
        issues.push({
          code: 'CRD_SCHEMA_TWICE',
          path: vPath,
          message: 'has both `spec` and `openAPIV3Schema`',
          severity: 'error',
          hint: 'Keep one: a zod `spec` in TypeScript, `openAPIV3Schema` in YAML or JSON.',
        });
      }
    } else if (specSchema) {
      const properties: Json = { spec: specSchema };
      if (statusSchema) properties.status = statusSchema;
      openAPIV3Schema = {
        type: 'object',
        ...(input.description ? { description: input.description } : {}),
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { type: 'object' },
          ...properties,
        },
        required: ['spec'],
      };
    } else {
      if (v.spec === undefined) {
        issues.push({
          code: 'CRD_SCHEMA_MISSING',
          path: vPath,
          message: 'needs a `spec` zod schema (or `openAPIV3Schema`)',
          severity: 'error',
        });
      }
      openAPIV3Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    }
    const subresources: Json = {};
    if (v.subresources?.status ?? v.status !== undefined) subresources.status = {};
    if (v.subresources?.scale) subresources.scale = v.subresources.scale;
    const version: Json = {
      name: v.name,
      served: v.served ?? true,
      storage: v.storage ?? singleVersion,
    };
    if (v.deprecated) version.deprecated = true;
    version.schema = { openAPIV3Schema };
    if (Object.keys(subresources).length > 0) version.subresources = subresources;
    if (v.printerColumns && v.printerColumns.length > 0) version.additionalPrinterColumns = v.printerColumns;
    return version;
  });
  const names: Json = {
    kind: input.kind,
    listKind: input.listKind ?? `${input.kind}List`,
    plural,
    singular: input.singular ?? input.kind.toLowerCase(),
  };
  if (input.shortNames) names.shortNames = input.shortNames;
  if (input.categories) names.categories = input.categories;
  return {
    group: input.group,
    kind: input.kind,
    plural,
    versions: input.versions.map((v) => v.name),
    manifest: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.${input.group}` },
      spec: { group: input.group, names, scope: input.scope ?? 'Namespaced', versions },
    },
  };
}
