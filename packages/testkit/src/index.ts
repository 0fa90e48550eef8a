export * from './sipp.js';
export * from './corpora.js';
export * from './net.js';
export * from './certs.js';
export * from './protos.js';
export * from './stunnel.js';
export * from './loopback.js';
export * from './wait.js';
