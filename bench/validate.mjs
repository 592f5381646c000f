#!/usr/bin/env node
// Benchmark of validateSolution on examples/zenko-like, after load: the time `solution validate`
// spends validating once the solution file is imported (issue 10 asks for under a second).
// The first run pays the lazy loading of the PromQL linter; later runs are the steady state.
// Run after `npm run build`: node bench/validate.mjs [--runs 20]
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { validateSolution } = await import(new URL('../dist/index.js', import.meta.url).href);
const { loadSolutionFile } = await import(new URL('../dist/packaging/index.js', import.meta.url).href);

const args = process.argv.slice(2);
const i = args.indexOf('--runs');
const runs = i >= 0 ? Number(args[i + 1]) : 20;

const t0 = performance.now();
const { solution } = await loadSolutionFile(`${root}examples/zenko-like`);
const loadMs = performance.now() - t0;
const times = [];
let issues = -1;
for (let r = 0; r < runs; r++) {
  const t = performance.now();
  const report = validateSolution(solution.definition);
  times.push(performance.now() - t);
  issues = report.issues.length;
}
const sorted = [...times].sort((a, b) => a - b);
const ms = (v) => `${v.toFixed(1)} ms`;
console.log(`examples/zenko-like: load (import + first validation) ${ms(loadMs)}`);
console.log(`validateSolution: first ${ms(times[0])}, median ${ms(sorted[Math.floor(runs / 2)])}, max ${ms(sorted.at(-1))} over ${runs} runs; ${issues} issues`);
