/**
 * zod's issues as the SDK's: each with a stable code, the path to the field (`images[1].name`),
 * a message a vendor reads and, for a misspelt key, the field it probably meant. Used by
 * `validateSolution` section by section.
 *
 * @module
 */
import type { z } from 'zod';
import type { Issue } from '../errors.js';
import { editDistance } from './_object-rules.js';
import { SolutionSchema } from './schema.js';

function pathOf(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Field names known at a path of the schema, to suggest a fix for a misspelt key. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  for (const p of path) {
    s = unwrap(s);
    const def = (s as { def?: Record<string, unknown> }).def;
    if (!def) return [];
    if (typeof p === 'number' && def.type === 'array') s = def.element;
    else if (typeof p === 'string' && def.type === 'object') s = (def.shape as Record<string, unknown>)[p];
    else return [];
  }
  s = unwrap(s);
  const def = (s as { def?: Record<string, unknown> }).def;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

function unwrap(s: unknown): unknown {
  let cur = s as { def?: Record<string, unknown> } | undefined;
  for (let i = 0; i < 10 && cur?.def; i++) {
    const t = cur.def.type;
    if (t === 'optional' || t === 'nullable' || t === 'default') cur = cur.def.innerType as typeof cur;
    else break;
  }
  return cur;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Operator fields MetalK8s cannot keep (reference §8), and where the setting belongs instead. */
const OPERATOR_OVERRIDES: Readonly<Record<string, string>> = {
  args: 'Remove it: give the flags defaults in the operator binary, or read the settings from the OperatorConfig (/etc/config/operator.yaml) or from a custom resource the operator watches.',
  env: 'Remove it: set the variables in the image (images[].source.config.env for a built image; Kubernetes keeps the image environment), or read them from a custom resource the operator watches.',
  resources: 'Remove it: give the environment namespace a LimitRange with default requests and limits; the operator container has none, so it gets those defaults.',
};

export function zodIssues(err: z.ZodError, prefix: readonly PropertyKey[], raw: unknown): Issue[] {
  const out: Issue[] = [];
  for (const zi of err.issues) {
    const full = [...prefix, ...zi.path];
    switch (zi.code) {
      case 'unrecognized_keys':
        for (const key of zi.keys) {
          const removed = full.length === 1 && full[0] === 'operator' ? OPERATOR_OVERRIDES[key] : undefined;
          if (removed) {
            out.push({
              code: 'OPERATOR_OVERRIDE_UNSUPPORTED',
              path: pathOf([...full, key]),
              message: `operator.${key} cannot be kept: MetalK8s writes the operator Deployment itself and replaces it whole on every prepare-environment run of the environment (any solution added, removed or upgraded there, by the SDK, solutions.sh or the UI), so anything set on top is wiped`,
              severity: 'error',
              hint: removed,
            });
            continue;
          }
          const guess = suggest(key, knownKeys(SolutionSchema, full));
          out.push({
            code: 'UNKNOWN_FIELD',
            path: pathOf([...full, key]),
            message: `unknown field "${key}"`,
            severity: 'error',
            hint: guess ? `Did you mean "${guess}"?` : 'Remove it, or check the field names in docs/solution-file.md.',
          });
        }
        break;
      case 'invalid_type': {
        const missing = valueAt(raw, full) === undefined;
        out.push({
          code: missing ? 'REQUIRED' : 'INVALID_TYPE',
          path: pathOf(full),
          message: missing ? `is required (${zi.expected})` : zi.message.replace(/^Invalid input: /, ''),
          severity: 'error',
        });
        break;
      }
      case 'invalid_value':
        out.push({
          code: 'INVALID_VALUE',
          path: pathOf(full),
          message: `must be one of ${zi.values.map((v) => JSON.stringify(v)).join(', ')}`,
          severity: 'error',
        });
        break;
      case 'invalid_union': {
        const disc = (zi as { note?: string }).note;
        // A union of object shapes (a build layer: { files } or { directory }): the shape the value
        // has no root-level complaint about is the one meant; its issues say what is wrong.
        const branches = (zi as { errors?: z.core.$ZodIssue[][] }).errors ?? [];
        const meant = branches.filter((b) => b.length > 0 && !b.some((x) => x.path.length === 0));
        if (!disc && meant.length === 1 && meant[0]) {
          out.push(...zodIssues({ issues: meant[0] } as unknown as z.ZodError, full, raw));
          break;
        }
        out.push({
          code: 'INVALID_VALUE',
          path: pathOf(full),
          message: disc ? `does not match: ${disc}` : 'matches none of the allowed shapes',
          severity: 'error',
          hint: 'Check the allowed shapes of this field in docs/solution-file.md.',
        });
        break;
      }
      case 'too_small':
        out.push({ code: 'TOO_SMALL', path: pathOf(full), message: zi.message.replace(/^Too small: /, ''), severity: 'error' });
        break;
      case 'too_big':
        out.push({ code: 'TOO_BIG', path: pathOf(full), message: zi.message.replace(/^Too big: /, ''), severity: 'error' });
        break;
      default:
        out.push({ code: 'INVALID', path: pathOf(full), message: zi.message, severity: 'error' });
    }
  }
  return out;
}
