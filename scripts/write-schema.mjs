// Regenerates schema/solution.schema.json from the zod schema (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { solutionJsonSchema } from '../dist/index.js';

const file = new URL('../schema/solution.schema.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(solutionJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
