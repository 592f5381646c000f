import type { Command } from '@commander-js/extra-typings';

/** `solution emulator up|down`: to be filled by the cluster test environment work. */
export function registerEmulatorCommands(_program: Command): void {}
