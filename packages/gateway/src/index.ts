/**
 * The MiVoice Border Gateway role: `startGateway(config)` with a config from `loadGatewayConfig`
 * (one YAML file) or `resolveGatewayConfig` (an object). The building blocks are exported for
 * tests and for tools built on them.
 */
export * from './gateway.js';
export * from './config/index.js';
export * from './status/types.js';
export { WebCertificate, type CertificateInfo } from './certificates/web-certificate.js';
export { CredentialCache, type SetCredential } from './credentials/credential-cache.js';
export { AbuseBlocker, AccessList, isScannerUserAgent, scannerUserAgentMatcher } from './security/index.js';
export { MediaRelay, MediaSession } from './media/index.js';
export { startHttpsServer, createStatusRequestHandler, createSetFacingRequestHandler, ensureAdminToken, renderMetrics, type HttpsServer } from './http/index.js';
