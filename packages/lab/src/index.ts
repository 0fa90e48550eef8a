export * from './options.js';
export * from './users.js';
export * from './stack-demo.js';
