/** Markdown reference of a solution file, from its JSON Schema. */
export function renderSolutionFileDoc(schema: Record<string, unknown>): string;
