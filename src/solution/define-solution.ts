import { ValidationError } from '../errors.js';
import type { SolutionInput } from './schema.js';
import { type Solution, validateSolution } from './validate.js';

/**
 * Declares a solution. Validates the whole definition and throws one {@link ValidationError}
 * carrying every error (with its path and a hint) when anything is wrong; warnings are kept on
 * `solution.warnings`. Pure: no file, network or clock access.
 *
 * @example
 * export default defineSolution({
 *   name: 'zenko',
 *   version: '2.6.0',
 *   operator: { image: 'zenko-operator' },
 *   images: [{ name: 'zenko-operator', tag: '2.6.0', source: { kind: 'registry', reference: 'registry.example.com/zenko-operator:2.6.0' } }],
 * });
 */
export function defineSolution(input: SolutionInput): Solution {
  const report = validateSolution(input);
  if (!report.solution) throw new ValidationError(report.issues);
  return report.solution;
}

/**
 * Whether a value is a {@link Solution} returned by {@link defineSolution} or `validateSolution`.
 *
 * @example
 * ```ts
 * const value = (await import('./solution.config.ts')).default;
 * const solution = isSolution(value) ? value : defineSolution(value);
 * ```
 */
export function isSolution(value: unknown): value is Solution {
  return (
    value !== null &&
    typeof value === 'object' &&
    'definition' in value &&
    'id' in value &&
    'crds' in value &&
    typeof (value as Solution).id === 'string'
  );
}
