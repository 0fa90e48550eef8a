import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGatewayConfig, startGateway, type GatewayConfig, type RunningGateway } from '@psi-lab/gateway';
import type { SqliteStore } from '@psi-lab/pbx';
import type { Logger } from 'pino';

export const GATEWAY_SIP_PORT = 5060;
export const GATEWAY_TLS_PORT = 5061;
export const GATEWAY_HTTPS_PORT = 8443;
export const GATEWAY_PBX_SIDE_PORT = 5062;
const MBG_ACCOUNT = 'mbg';

export interface LabGateway {
  gateway: RunningGateway;
  config: GatewayConfig;
  configFile: string;
  close(): Promise<void>;
}

/**
 * The MiVoice Border Gateway role of the lab, bound to the lab's pbx. Its configuration lives in
 * DATA/gateway.yaml, written at first start (MBG account and shared secret, certificate folder)
 * and read at every start; the lab's flags decide the addresses. The pbx gets the matching MBG
 * entry and the gateway's address on its Allow-List, as an administrator would set them.
 */
export async function startLabGateway(options: {
  dataDir: string; host: string; publicAddress: string; pbxPort: number; apiPort: number; store: SqliteStore; logger: Logger; sipTrace: boolean;
  /** Where the pbx listens, when not on this gateway's own address (a second, backup gateway). */
  pbxHost?: string;
}): Promise<LabGateway> {
  const configFile = join(options.dataDir, 'gateway.yaml');
  if (!existsSync(configFile)) writeFileSync(configFile, firstConfig(), { mode: 0o600 });
  const fromFile = loadGatewayConfig(configFile);
  // The link between gateway and pbx stays on this machine even when the lab listens everywhere.
  const internal = options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
  const config: GatewayConfig = {
    ...fromFile,
    sip: { ...fromFile.sip, host: options.host, publicAddress: options.publicAddress },
    https: { ...fromFile.https, host: options.host },
    certificate: { ...fromFile.certificate, names: [...new Set(['localhost', '127.0.0.1', options.publicAddress, ...fromFile.certificate.names])] },
    pbx: { ...fromFile.pbx, address: options.pbxHost ?? internal, port: options.pbxPort, localHost: internal, api: `http://${options.pbxHost ?? internal}:${options.apiPort}` },
    media: { ...fromFile.media, setSideAddress: options.publicAddress, pbxSideAddress: internal },
    log: { ...fromFile.log, sipTrace: options.sipTrace || fromFile.log.sipTrace },
  };
  const store = options.store;
  store.setMbg({ address: internal, publicFqdn: options.publicAddress, account: config.pbx.account, sharedSecret: config.pbx.secret });
  if (!store.listAllowList().some((e) => e.cidr === `${internal}/32`)) store.addAllowListEntry(`${internal}/32`, 'the lab gateway (MBG)');
  const gateway = await startGateway(config, { logger: options.logger.child({ role: 'gateway' }) });
  return { gateway, config, configFile, close: () => gateway.close() };
}

function firstConfig(): string {
  const secret = randomBytes(18).toString('base64url');
  return [
    '# psi-lab gateway (MBG role), written by `npm run lab` at first start.',
    '# Every option and its default: packages/gateway/gateway.example.yaml.',
    '# The lab sets the addresses from its flags (--host, --public-address); edit the rest and restart.',
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
    'certificate:',
    '  dir: certs',
    '',
  ].join('\n');
}
