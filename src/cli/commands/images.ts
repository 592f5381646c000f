import type { Command } from '@commander-js/extra-typings';

/** `solution images …`: to be filled by the images work. */
export function registerImagesCommands(_program: Command): void {}
