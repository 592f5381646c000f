import type { Command } from '@commander-js/extra-typings';

/** `solution validate` and `solution render`. */
export function registerSolutionCommands(_program: Command): void {}
