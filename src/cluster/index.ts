/**
 * I/O to a running MetalK8s cluster: {@link connect} and the Solution lifecycle
 * (`cluster.solutions`, `cluster.environments`), the node lifecycle (`cluster.nodes`), the
 * platform services (`cluster.metrics`, `cluster.alerts`, `cluster.dashboards`, `cluster.logs`,
 * `cluster.health()`), the SaltAPI client and Salt result readers, and diagnostics
 * (`preflight()`, `supportBundle()`, `doctor()`).
 *
 * @module
 */
export * from './salt-api.js';
export * from './salt-results.js';
export * from './salt-api-env.js';
export * from './connect.js';
export * from './platform.js';
export * from './solutions.js';
export * from './environments.js';
export * from './nodes.js';
export * from './redaction.js';
export * from './diagnostics-snapshot.js';
export * from './support-bundle.js';
export * from './doctor.js';
export * from './preflight.js';
export * from './metrics.js';
export * from './alerts.js';
export * from './dashboards.js';
export * from './logs.js';
export * from './health.js';
export type { AvailableEntry } from './_lifecycle.js';
