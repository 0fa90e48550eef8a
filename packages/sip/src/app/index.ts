export * from './app.js';
export * from './incoming-request.js';
export * from './outgoing-response.js';
export * from './middleware.js';
export * from './uas-checks.js';
export * from './uac.js';
