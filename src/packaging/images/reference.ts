/**
 * Image references: the parser lives with the pure model (`solution/image-reference.ts`), so that
 * `validateSolution` refuses exactly what `pack` would.
 *
 * @module
 */
export { formatImageReference, type ImageReference, parseImageReference } from '../../solution/image-reference.js';
