// Regenerates schema/solution.schema.json and docs/solution-file.md from the zod schema
// (`npm run schema` builds first).
import { writeFileSync } from 'node:fs';
import { solutionJsonSchema } from '../dist/index.js';
import { renderSolutionFileDoc } from './solution-file-doc.mjs';

const schema = solutionJsonSchema();
const schemaFile = new URL('../schema/solution.schema.json', import.meta.url);
writeFileSync(schemaFile, `${JSON.stringify(schema, null, 2)}\n`);
const docFile = new URL('../docs/solution-file.md', import.meta.url);
writeFileSync(docFile, renderSolutionFileDoc(schema));
console.log(`wrote ${schemaFile.pathname} and ${docFile.pathname}`);
