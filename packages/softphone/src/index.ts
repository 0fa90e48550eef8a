/**
 * The Zoom Phone tab role: `new Phone({ user, password | ha1, servers, ca, mediaFactory })` on
 * sip.js, with Node transports for TLS and WSS and failover between gateways.
 */
export * from './phone/phone.js';
export * from './phone/call.js';
export * from './phone/call-log.js';
export * from './phone/registration-status.js';
export * from './media/call-media.js';
export * from './media/rtp-session-description-handler.js';
export * from './transport/server-address.js';
export * from './transport/connection.js';
export * from './transport/failover-transport.js';
export type { TransferResult } from './phone/transfer.js';
