// Runs the benchmarks: `npm run bench` runs every bench/*.mjs (fuzzers excluded), and
// `npm run bench -- images pack` runs the named ones. Build first: they import from dist/.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('_'))
  .map((f) => f.replace(/\.mjs$/, ''));
const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : all.filter((n) => !n.startsWith('fuzz'));
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`no benchmark "${name}"; have: ${all.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n=== ${name}`);
  const r = spawnSync(process.execPath, [`${dir}${name}.mjs`], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
