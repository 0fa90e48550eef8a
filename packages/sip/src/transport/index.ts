export * from './flow.js';
export * from './connection.js';
export * from './listeners.js';
export * from './transport-layer.js';
export * from './cidr.js';
export * from './source-limit.js';
