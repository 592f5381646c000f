/**
 * Image references (`docker.io/library/redis:7.2`, `quay.io/x/y@sha256:…`, `redis`), parsed the
 * way Docker does: a first component with a `.` or a `:`, or `localhost`, is a registry host;
 * otherwise the registry is `docker.io` and one-component names get the `library/` prefix.
 * Written here because it is thirty lines and the npm packages for it are unmaintained.
 *
 * @module
 */
import { ValidationError } from '../errors.js';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host, with port if any: `docker.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path inside the registry: `library/redis`. */
  readonly repository: string;
  /** Tag, when the reference has one (`latest` when it has neither tag nor digest). */
  readonly tag: string | undefined;
  /** `sha256:…` digest, when the reference pins one. */
  readonly digest: string | undefined;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const COMPONENT_RE = new RegExp(`^${COMPONENT}$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

function invalid(reference: string, message: string): ValidationError {
  return new ValidationError(
    [
      {
        code: 'IMAGE_REFERENCE_INVALID',
        path: reference,
        message,
        severity: 'error',
        hint: 'Write references like docker.io/library/redis:7.2, registry.example.com:5000/team/app@sha256:<64 hex>.',
      },
    ],
    'image reference',
  );
}

/**
 * Parses and normalises an image reference.
 *
 * @throws `ValidationError` (code `VALIDATION_FAILED`, issue `IMAGE_REFERENCE_INVALID`) when it is not valid.
 * @example
 * ```ts
 * parseImageReference('redis:7.2');
 * // { registry: 'docker.io', repository: 'library/redis', tag: '7.2', digest: undefined }
 * ```
 */
export function parseImageReference(reference: string): ImageReference {
  let rest = reference.trim();
  if (rest === '') throw invalid(reference, 'the image reference is empty');
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw invalid(reference, `"${digest}" is not a sha256:<64 lowercase hex> digest`);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw invalid(reference, `"${tag}" is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
    if (!HOST_RE.test(registry)) throw invalid(reference, `"${registry}" is not a valid registry host`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!COMPONENT_RE.test(p)) {
      throw invalid(reference, `"${p}" is not a valid repository component (lowercase letters, digits, . _ -)`);
    }
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: parts.join('/'), tag, digest };
}

/**
 * Formats a reference back to text: `registry/repository[:tag][@digest]`.
 *
 * @example
 * ```ts
 * formatImageReference(parseImageReference('redis')); // 'docker.io/library/redis:latest'
 * ```
 */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
