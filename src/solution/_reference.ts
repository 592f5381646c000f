/** Registry references of `images[].source`, checked with the parser `pack` uses. */
import { ValidationError } from '../errors.js';
import type { Issues } from './_object-rules.js';
import { parseImageReference } from './image-reference.js';

/** Reports a reference `pack` could not pull (malformed name, tag or digest) at `path`. */
export function checkImageReference(reference: string, path: string, is: Issues): void {
  try {
    const ref = parseImageReference(reference);
    const last = reference.split('/').pop() ?? '';
    if (!reference.includes('@') && !/:[\w][\w.-]*$/.test(last))
      is.warn('IMAGE_REFERENCE_UNTAGGED', path, `"${reference}" has no tag or digest and means ":latest"`, 'Pin a tag, or better a digest, for reproducible archives.');
    if (`${ref.registry}/${ref.repository}`.length > 255)
      is.error('IMAGE_REFERENCE_INVALID', path, `"${reference}" has a repository name longer than 255 characters`, 'Registries refuse such names.');
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    const issue = err.issues[0];
    const digest = reference.includes('@') && /digest/.test(issue?.message ?? '');
    is.error(
      digest ? 'IMAGE_DIGEST_INVALID' : 'IMAGE_REFERENCE_INVALID',
      path,
      `"${reference}": ${issue?.message ?? 'not an image reference'}`,
      digest ? 'A digest is "sha256:" and 64 lowercase hex characters: copy it from `skopeo inspect` or the registry.' : issue?.hint,
    );
  }
}
