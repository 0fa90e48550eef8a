export * from './options.js';
export * from './users.js';
export * from './token.js';
export * from './pbx-role.js';
export * from './gateway-role.js';
export * from './certificates.js';
export * from './lab.js';
