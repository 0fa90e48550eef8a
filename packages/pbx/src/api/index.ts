export * from './management-api.js';
export * from './server.js';
export * from './routes.js';
export * from './errors.js';
