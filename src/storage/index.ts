/**
 * Hardware-aware storage for MetalK8s Solutions: the disk inventory of each node (every device
 * eligible or with its reasons), a pure Volume planner from the solution's storage needs, and
 * the Volume verbs (apply a plan and watch it, list, delete, wipe).
 *
 * @module
 */
export * from './model.js';
export * from './quantity.js';
export * from './probe-output.js';
export * from './eligibility.js';
export * from './planner.js';
export * from './inventory.js';
export * from './volumes.js';
export * from './prometheus-inventory.js';
