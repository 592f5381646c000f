import { z } from 'zod';
import { SolutionSchema } from './schema.js';

/**
 * The JSON Schema (draft 2020-12) of a solution file, generated from the zod schema, for editor
 * completion and validation of `solution.config.yaml` and `.json` files. Pure.
 *
 * @example
 * writeFileSync('solution.schema.json', JSON.stringify(solutionJsonSchema(), null, 2));
 */
export function solutionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(SolutionSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: 'https://unpkg.com/metalk8s-solution-sdk/schema/solution.schema.json',
    title: 'MetalK8s Solution SDK solution file',
  };
}
