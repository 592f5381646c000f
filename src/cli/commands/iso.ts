import type { Command } from '@commander-js/extra-typings';

/** `solution iso create|ls|cat|extract`: to be filled by the ISO writer work. */
export function registerIsoCommands(_program: Command): void {}
