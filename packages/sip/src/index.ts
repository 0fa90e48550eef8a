/**
 * psi-lab's SIP stack, in layers: message (parse, build, validate), transport (UDP, TCP, TLS,
 * WS, WSS), transaction (RFC 3261 §17 state machines), digest (RFC 7616/8760), and app, the
 * drachtio-srf-shaped API the gateway and pbx are written on.
 */
export * from './message/index.js';
export * from './transport/index.js';
export * from './transaction/index.js';
export * from './digest/index.js';
export * from './message/auth.js';
export * from './app/index.js';
export * from './dialog/index.js';
