import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGatewayConfig, startGateway, type GatewayConfig, type RunningGateway } from '@psi-lab/gateway';
import type { SqliteStore } from '@psi-lab/pbx';
import type { Logger } from 'pino';

export const GATEWAY_SIP_PORT = 5060;
export const GATEWAY_TLS_PORT = 5061;
export const GATEWAY_HTTPS_PORT = 8443;
export const GATEWAY_ADMIN_PORT = 9080;
export const GATEWAY_PBX_SIDE_PORT = 5062;
const MBG_ACCOUNT = 'mbg';

export interface LabGateway {
  gateway: RunningGateway;
  config: GatewayConfig;
  configFile: string;
  close(): Promise<void>;
}

export interface LabGatewayOptions {
  dataDir: string;
  /** Where the set-side listeners bind (--host). */
  host: string;
  /** What sets are told (--public-address). */
  publicAddress: string;
  /** The gateway's address on the site's LAN: its pbx side (SIP and RTP) listens here. */
  internalHost: string;
  /** The port its pbx side listens on; default the file's (5062). A second gateway on the same LAN address needs another. */
  pbxSidePort?: number;
  /** Where the admin pages listen (--admin-host). */
  adminHost: string;
  pbxPort: number;
  /** The pbx management API (https) and the CA its certificate chains to. */
  apiUrl: string;
  caFile: string;
  /** The gateway's "Web Server" certificate. */
  certFile: string;
  keyFile: string;
  store: SqliteStore;
  logger: Logger;
  sipTrace: boolean;
  /** Sources the gateway never counts or blocks (white-list rules put before the file's). */
  whiteList?: string[];
  /** Networks a set's media may come from, besides its signalling address (added to media.trustedNetworks). */
  mediaNetworks?: string[];
  /** A second gateway of the same pbx (a backup SBC, on the same LAN address): the MBG entry is the first's, left as it is. */
  backup?: boolean;
}

/**
 * The MiVoice Border Gateway role of the lab, bound to the lab's pbx. Its configuration lives in
 * DATA/gateway.yaml, written at first start (MBG account and shared secret) and read at every
 * start; the lab's flags decide the addresses and the certificates. The pbx gets the matching
 * MBG entry and the gateway's LAN address on its Allow-List, as an administrator would set them.
 * A second gateway (a backup SBC) shares the first's LAN address, account and secret.
 */
export async function startLabGateway(options: LabGatewayOptions): Promise<LabGateway> {
  const configFile = join(options.dataDir, 'gateway.yaml');
  if (!existsSync(configFile)) writeFileSync(configFile, firstConfig(), { mode: 0o600 });
  const fromFile = loadGatewayConfig(configFile);
  const internal = options.internalHost;
  const config: GatewayConfig = {
    ...fromFile,
    sip: { ...fromFile.sip, host: options.host, publicAddress: options.publicAddress },
    https: { ...fromFile.https, host: options.host },
    admin: { ...fromFile.admin, host: options.adminHost },
    certificate: { ...fromFile.certificate, certFile: options.certFile, keyFile: options.keyFile, caFile: options.caFile },
    pbx: {
      ...fromFile.pbx, address: internal, port: options.pbxPort, localHost: internal, localPort: options.pbxSidePort ?? fromFile.pbx.localPort,
      api: options.apiUrl, apiCaFile: options.caFile,
    },
    media: { ...fromFile.media, setSideAddress: options.publicAddress, pbxSideAddress: internal, trustedNetworks: [...(options.mediaNetworks ?? []), ...fromFile.media.trustedNetworks] },
    security: { ...fromFile.security, accessList: [...(options.whiteList ?? []).map((cidr) => ({ cidr, list: 'white' as const })), ...fromFile.security.accessList] },
    log: { ...fromFile.log, sipTrace: options.sipTrace || fromFile.log.sipTrace },
  };
  const store = options.store;
  if (!options.backup) {
    store.setMbg({ address: internal, publicFqdn: options.publicAddress, account: config.pbx.account, sharedSecret: config.pbx.secret });
    if (!store.listAllowList().some((e) => e.cidr === `${internal}/32`)) store.addAllowListEntry(`${internal}/32`, 'the lab gateway (MBG)');
  }
  const gateway = await startGateway(config, { logger: options.logger.child({ role: 'gateway' }) });
  return { gateway, config, configFile, close: () => gateway.close() };
}

function firstConfig(): string {
  const secret = randomBytes(18).toString('base64url');
  return [
    '# psi-lab gateway (MBG role), written by `npm run lab` at first start.',
    '# Every option and its default: packages/gateway/gateway.example.yaml.',
    '# The lab sets the addresses and certificates from its flags (--host, --public-address,',
    '# --internal-host, --admin-host); edit the rest and restart.',
    'pbx:',
    `  account: ${MBG_ACCOUNT}`,
    `  secret: ${secret}`,
    `  port: 5070`,
    `  localPort: ${GATEWAY_PBX_SIDE_PORT}`,
    'sip:',
    `  port: ${GATEWAY_SIP_PORT}`,
    `  tlsPort: ${GATEWAY_TLS_PORT}`,
    'https:',
    `  port: ${GATEWAY_HTTPS_PORT}`,
    '  wsPath: /sip',
    'admin:',
    `  port: ${GATEWAY_ADMIN_PORT}`,
    '  tokenFile: admin-token',
    '',
  ].join('\n');
}
