/**
 * I/O to a running MetalK8s cluster: {@link connect} and the Solution lifecycle
 * (`cluster.solutions`, `cluster.environments`), the node lifecycle (`cluster.nodes`), the SaltAPI client and Salt result readers.
 *
 * @module
 */
export * from './salt-api.js';
export * from './salt-results.js';
export * from './salt-api-env.js';
export * from './connect.js';
export * from './solutions.js';
export * from './environments.js';
export * from './nodes.js';
