#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * `solution`: the SDK's command line. Thin by design: parse flags, call the library, print.
 *
 * Each group of commands lives in its own module, loaded only when one of its commands runs
 * (all of them for `--help`), so `solution validate` does not pay for the Kubernetes client.
 *
 * The shebang caps V8's young generation at 2 MiB per semi-space: packing thousands of files
 * then peaks at ~71 MiB instead of ~104 MiB, for the same CPU time (bench/iso-bench.mjs).
 */
import type { Command as CommandType } from '@commander-js/extra-typings';
import { Command } from '@commander-js/extra-typings';
import { SDK_VERSION } from '../version.js';
import { errorEvent, formatError, isClosedOutput, stopOnClosedOutput, stopOnSignals } from './_output.js';

type Register = (program: CommandType) => void;

const groups: { readonly commands: readonly string[]; readonly load: () => Promise<Register> }[] = [
  { commands: ['validate', 'render', 'preview-env'], load: async () => (await import('./commands/solution.js')).registerSolutionCommands },
  { commands: ['pack', 'keygen'], load: async () => (await import('./commands/pack.js')).registerPackCommands },
  { commands: ['dev'], load: async () => (await import('./commands/dev.js')).registerDevCommands },
  { commands: ['init'], load: async () => (await import('./commands/init.js')).registerInitCommands },
  { commands: ['inspect', 'verify', 'diff'], load: async () => (await import('./commands/inspect.js')).registerInspectCommands },
  { commands: ['iso'], load: async () => (await import('./commands/iso.js')).registerIsoCommands },
  { commands: ['images'], load: async () => (await import('./commands/images.js')).registerImagesCommands },
  {
    commands: ['import', 'activate', 'deactivate', 'remove', 'status', 'env'],
    load: async () => (await import('./commands/cluster.js')).registerClusterCommands,
  },
  { commands: ['support-bundle', 'doctor', 'preflight'], load: async () => (await import('./commands/diagnostics.js')).registerDiagnosticsCommands },
  { commands: ['disks', 'volumes'], load: async () => (await import('./commands/storage.js')).registerStorageCommands },
  { commands: ['nodes'], load: async () => (await import('./commands/nodes.js')).registerNodesCommands },
  {
    commands: ['metrics', 'alerts', 'logs', 'dashboards', 'health'],
    load: async () => (await import('./commands/monitoring.js')).registerMonitoringCommands,
  },
  { commands: ['emulator'], load: async () => (await import('./commands/emulator.js')).registerEmulatorCommands },
];

const program = new Command('solution')
  .description('Describe, pack and run MetalK8s Solutions.')
  .version(SDK_VERSION)
  .showHelpAfterError('(run with --help for usage)');

// SIGINT and SIGTERM stop every command cleanly, also while its modules load.
stopOnSignals();
stopOnClosedOutput();
try {
  const name = process.argv.slice(2).find((a) => !a.startsWith('-'));
  const selected = groups.filter((g) => name !== undefined && g.commands.includes(name));
  const versionOnly = name === undefined && process.argv.slice(2).some((a) => a === '-V' || a === '--version');
  if (!versionOnly) for (const g of selected.length > 0 ? selected : groups) (await g.load())(program);
  await program.parseAsync(process.argv);
} catch (err) {
  if (!isClosedOutput(err)) {
    // An error thrown while the flags are parsed (a bad numeric value) comes here, before any
    // command has made its Output: `--json` still gets its one JSON error event.
    if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(errorEvent(err))}\n`);
    else process.stderr.write(`${formatError(err)}\n`);
    process.exitCode = 1;
  }
}
