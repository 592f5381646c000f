import type { Command } from '@commander-js/extra-typings';
import { initProject } from '../../packaging/init-project.js';
import { action, Output } from '../_output.js';

/** `solution init`. */
export function registerInitCommands(program: Command): void {
  program
    .command('init')
    .description('Create a ready solution project: package.json, tsconfig, an example solution, a test and a CI workflow.')
    .argument('[dir]', 'folder to create (new or empty)', '.')
    .option('--name <name>', 'solution name (default: the folder name)')
    .option('--json', 'print one JSON object')
    .option('-q, --quiet', 'print errors only')
    .action(
      action(
        async (dir: string, opts: { name?: string; json?: boolean; quiet?: boolean }) => {
          const out = new Output(opts);
          const r = await initProject({ dir, name: opts.name });
          const cd = dir === '.' ? '' : `cd ${dir} && `;
          out.result(
            [
              `created ${r.name} in ${r.dir}:`,
              ...r.files.map((f) => `  ${f}`),
              '',
              'next:',
              `  ${cd}npm install && npm test`,
              '  npm run pack        # out/<name>-<version>.iso',
            ].join('\n'),
            r,
          );
        },
        (_d, opts) => new Output(opts),
      ),
    );
}
