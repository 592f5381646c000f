#!/usr/bin/env node
/**
 * `solution`: the SDK's command line. Thin by design: parse flags, call the library, print.
 */
import { Command } from '@commander-js/extra-typings';
import { SDK_VERSION } from '../version.js';
import { registerClusterCommands } from './commands/cluster.js';
import { registerEmulatorCommands } from './commands/emulator.js';
import { registerImagesCommands } from './commands/images.js';
import { registerIsoCommands } from './commands/iso.js';
import { registerPackCommands } from './commands/pack.js';
import { registerSolutionCommands } from './commands/solution.js';
import { formatError } from './_output.js';

const program = new Command('solution')
  .description('Describe, pack and run MetalK8s Solutions.')
  .version(SDK_VERSION)
  .showHelpAfterError('(run with --help for usage)');

registerSolutionCommands(program);
registerPackCommands(program);
registerIsoCommands(program);
registerImagesCommands(program);
registerEmulatorCommands(program);
registerClusterCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`${formatError(err)}\n`);
  process.exitCode = 1;
}
