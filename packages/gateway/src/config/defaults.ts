import { join, resolve } from 'node:path';
import type { GatewayConfig, GatewayConfigInput } from './types.js';

/**
 * User-Agent fragments of well-known SIP scanners and brute-forcers (SIPVicious and its
 * `friendly-scanner` default, sipcli, sundayddr, iWar, SiVuS, ...), as commonly dropped by
 * Kamailio, OpenSIPS and Asterisk fail2ban setups. Matched case-insensitively as substrings.
 * Deliberately absent: SIPp (the lab load-tests with it) and sipsak, an administrator's
 * diagnostic (OPTIONS pings, monitoring checks): silence would send an admin chasing a fault
 * that is not there, and a sipsak used for guessing or flooding is blocked like any other source.
 */
export const DEFAULT_SCANNER_USER_AGENTS: readonly string[] = Object.freeze([
  'friendly-scanner',
  'sipvicious',
  'sipcli',
  'sip-scan',
  'VaxSIPUserAgent',
  'iWar',
  'sundayddr',
  'smap',
  'pplsip',
  'Ozeki',
  'SIVuS',
]);

/** The defaults that depend on no other option (see types.ts for what each one means). */
const FIXED = {
  host: '127.0.0.1',
  sipPort: 5060,
  sipTlsPort: 5061,
  httpsPort: 8443,
  wsPath: '/sip',
  adminPort: 9080,
  adminTokenFile: 'admin-token',
  certificateDir: 'certs',
  certificateWatch: true,
  certificateWatchIntervalMs: 2000,
  pbxAddress: '127.0.0.1',
  pbxPort: 5070,
  pbxTransport: 'tcp',
  pbxLocalHost: '127.0.0.1',
  pbxLocalPort: 5062,
  pbxApi: 'https://127.0.0.1:8070',
  credentialsRefreshSeconds: 2,
  algorithms: ['MD5'],
  nonceTtlSeconds: 300,
  optionsIntervalSeconds: 20,
  idleTimeoutSeconds: 300,
  mediaPortMin: 20000,
  mediaPortMax: 29999,
  maxAuthFailures: 10,
  maxUserAuthFailures: 10,
  authFailureWindowSeconds: 600,
  knownDeviceDays: 30,
  maxRequestsPerWindow: 200,
  windowSeconds: 10,
  maxRequestsPerSecond: 2000,
  blockSeconds: 3600,
  maxBlockSeconds: 86_400,
  maxConnectionsPerSource: 64,
  logLevel: 'info',
  sipTrace: false,
} as const;

/**
 * Every option at its default, for the two that have none. Relative defaults (`certs`) are taken
 * from `baseDir`, as if a YAML file there held only the pbx account and secret.
 */
export function defaultGatewayConfig(pbx: { account: string; secret: string }, baseDir: string = process.cwd()): GatewayConfig {
  return completeGatewayConfig({ pbx }, baseDir);
}

/**
 * Fills in every option `input` leaves out, in dependency order (sip.publicAddress follows
 * sip.host, media.setSideAddress follows sip.publicAddress, ...), and makes the certificate paths
 * absolute against `baseDir`. `input` must already be validated: nothing is checked here. A
 * missing pbx account or secret becomes '' (validation reports it).
 */
export function completeGatewayConfig(input: GatewayConfigInput, baseDir: string): GatewayConfig {
  const { sip = {}, https = {}, admin = {}, certificate = {}, pbx = {}, auth = {}, keepalive = {}, media = {}, security = {}, log = {} } = input;
  const host = sip.host ?? FIXED.host;
  const publicAddress = sip.publicAddress ?? host;
  const pbxLocalHost = pbx.localHost ?? FIXED.pbxLocalHost;
  const certificateDir = resolve(baseDir, certificate.dir ?? FIXED.certificateDir);
  const fromBase = (path: string | undefined, fallback: string): string => (path === undefined ? join(certificateDir, fallback) : resolve(baseDir, path));
  return {
    sip: { host, publicAddress, port: sip.port ?? FIXED.sipPort, tlsPort: sip.tlsPort ?? FIXED.sipTlsPort },
    https: { host: https.host ?? host, port: https.port ?? FIXED.httpsPort, wsPath: https.wsPath ?? FIXED.wsPath },
    admin: {
      host: admin.host ?? FIXED.host,
      port: admin.port ?? FIXED.adminPort,
      ...(admin.token === undefined ? {} : { token: admin.token }),
      tokenFile: resolve(baseDir, admin.tokenFile ?? FIXED.adminTokenFile),
    },
    certificate: {
      dir: certificateDir,
      certFile: fromBase(certificate.certFile, 'server.pem'),
      keyFile: fromBase(certificate.keyFile, 'server.key'),
      caFile: fromBase(certificate.caFile, 'ca.pem'),
      names: certificate.names ? [...certificate.names] : [...new Set(['localhost', '127.0.0.1', publicAddress])],
      watch: certificate.watch ?? FIXED.certificateWatch,
      watchIntervalMs: certificate.watchIntervalMs ?? FIXED.certificateWatchIntervalMs,
    },
    pbx: {
      address: pbx.address ?? FIXED.pbxAddress,
      port: pbx.port ?? FIXED.pbxPort,
      transport: pbx.transport ?? FIXED.pbxTransport,
      localHost: pbxLocalHost,
      localPort: pbx.localPort ?? FIXED.pbxLocalPort,
      api: pbx.api ?? FIXED.pbxApi,
      ...(pbx.apiCaFile === undefined ? {} : { apiCaFile: resolve(baseDir, pbx.apiCaFile) }),
      account: pbx.account ?? '',
      secret: pbx.secret ?? '',
      credentialsRefreshSeconds: pbx.credentialsRefreshSeconds ?? FIXED.credentialsRefreshSeconds,
    },
    auth: {
      algorithms: auth.algorithms ? [...auth.algorithms] : [...FIXED.algorithms],
      nonceTtlSeconds: auth.nonceTtlSeconds ?? FIXED.nonceTtlSeconds,
    },
    devices: (input.devices ?? []).map((device) => ({ ...device }) as GatewayConfig['devices'][number]),
    keepalive: {
      optionsIntervalSeconds: keepalive.optionsIntervalSeconds ?? FIXED.optionsIntervalSeconds,
      idleTimeoutSeconds: keepalive.idleTimeoutSeconds ?? FIXED.idleTimeoutSeconds,
    },
    media: {
      setSideAddress: media.setSideAddress ?? publicAddress,
      pbxSideAddress: media.pbxSideAddress ?? pbxLocalHost,
      portMin: media.portMin ?? FIXED.mediaPortMin,
      portMax: media.portMax ?? FIXED.mediaPortMax,
      trustedNetworks: media.trustedNetworks ?? [],
    },
    security: {
      accessList: (security.accessList ?? []).map((rule) => ({ ...rule }) as GatewayConfig['security']['accessList'][number]),
      maxAuthFailures: security.maxAuthFailures ?? FIXED.maxAuthFailures,
      maxUserAuthFailures: security.maxUserAuthFailures ?? FIXED.maxUserAuthFailures,
      authFailureWindowSeconds: security.authFailureWindowSeconds ?? FIXED.authFailureWindowSeconds,
      knownDeviceDays: security.knownDeviceDays ?? FIXED.knownDeviceDays,
      maxRequestsPerWindow: security.maxRequestsPerWindow ?? FIXED.maxRequestsPerWindow,
      windowSeconds: security.windowSeconds ?? FIXED.windowSeconds,
      maxRequestsPerSecond: security.maxRequestsPerSecond ?? FIXED.maxRequestsPerSecond,
      blockSeconds: security.blockSeconds ?? FIXED.blockSeconds,
      maxBlockSeconds: security.maxBlockSeconds ?? FIXED.maxBlockSeconds,
      maxConnectionsPerSource: security.maxConnectionsPerSource ?? FIXED.maxConnectionsPerSource,
      scannerUserAgents: security.scannerUserAgents ? [...security.scannerUserAgents] : [...DEFAULT_SCANNER_USER_AGENTS],
    },
    log: { level: log.level ?? FIXED.logLevel, sipTrace: log.sipTrace ?? FIXED.sipTrace },
  };
}
