import pkg from '../package.json' with { type: 'json' };

/** Version of this SDK, as published on npm. */
export const SDK_VERSION: string = pkg.version;
