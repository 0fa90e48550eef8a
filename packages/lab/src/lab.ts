import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ensureLabPki, type LabCertificateFiles } from './certificates.js';
import { startLabGateway, type LabGateway } from './gateway-role.js';
import { PBX_SIP_PORT, startLabPbx, type LabPbx } from './pbx-role.js';
import { ensureApiToken } from './token.js';
import { DEMO_USERS, loadTestUsers, type LabUser } from './users.js';

/** A second gateway's pbx side, beside the first's 5062 on the same LAN address. */
const BACKUP_PBX_SIDE_PORT = 5063;

export interface LabSetup {
  dataDir: string;
  /** Where the set-side listeners bind. */
  host: string;
  /** What sets are told; default `host`, or 127.0.0.1 when `host` is 0.0.0.0. */
  publicAddress?: string;
  /** The site's LAN address: the pbx and the gateway's pbx side. */
  internalHost: string;
  /** The admin pages; default `internalHost`. */
  adminHost?: string;
  /** Load-test users 2000.. besides the demo users. */
  users?: number;
  trunk?: string;
  /** Sources the gateway never counts or blocks (a load generator's). */
  whiteList?: string[];
  /** Networks a set's media may come from, besides its signalling address (media.trustedNetworks). */
  mediaNetworks?: string[];
  logger: Logger;
  sipTrace?: boolean;
}

export interface RunningLab {
  pbx: LabPbx;
  gateway: LabGateway;
  certs: LabCertificateFiles;
  publicAddress: string;
  adminHost: string;
  /** The pbx management API's bearer token (in DATA/api-token). */
  apiToken: string;
  loadUsers: LabUser[];
  /**
   * Starts another gateway (a backup SBC) with its sets' side and admin pages on `host`, on the
   * first one's LAN address (pbx side on 5063), bound to the same pbx; the lab's close() closes it too.
   */
  startBackupGateway(host: string, dataDir: string): Promise<LabGateway>;
  /** Stops the gateway alone (the pbx goes on), and starts it again as it was: a failover drill. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<LabGateway>;
  close(): Promise<void>;
}

/**
 * Every role built so far, as `npm run lab` runs them: the PKI, the pbx on the site's LAN
 * address, the gateway in front of it, the demo (and load-test) users. What `main.ts` prints
 * and what the end-to-end tests start are this, unchanged.
 */
export async function startLab(setup: LabSetup): Promise<RunningLab> {
  const dataDir = resolve(setup.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const publicAddress = setup.publicAddress ?? (setup.host === '0.0.0.0' ? '127.0.0.1' : setup.host);
  const internal = setup.internalHost;
  const adminHost = setup.adminHost ?? internal;
  const gatewayNames = (pub: string): string[] => ['localhost', '127.0.0.1', pub, internal, ...(adminHost === '0.0.0.0' ? [] : [adminHost])];
  const certs = ensureLabPki(dataDir, { gateway: gatewayNames(publicAddress), pbxApi: ['localhost', internal] });
  const loadUsers = loadTestUsers(setup.users ?? 0);
  const apiToken = ensureApiToken(join(dataDir, 'api-token'));
  const sipTrace = setup.sipTrace ?? false;
  const pbx = await startLabPbx({
    dbFile: join(dataDir, 'pbx.db'), host: internal, users: [...DEMO_USERS, ...loadUsers], zoomUsers: new Set(DEMO_USERS.map((u) => u.extension)),
    token: apiToken, logger: setup.logger, sipTrace, trunk: setup.trunk, apiTls: certs.pbxApi,
  });
  const gatewayAt = (host: string, pub: string, dir: string, backup: boolean, files = certs.gateway): Promise<LabGateway> => startLabGateway({
    dataDir: dir, host, publicAddress: pub, internalHost: internal, adminHost: backup ? host : adminHost, pbxPort: PBX_SIP_PORT, apiUrl: pbx.apiUrl,
    pbxSidePort: backup ? BACKUP_PBX_SIDE_PORT : undefined, whiteList: setup.whiteList, mediaNetworks: setup.mediaNetworks,
    caFile: certs.caFile, ...files, store: pbx.store, logger: setup.logger, sipTrace, backup,
  });
  let gateway: LabGateway;
  try {
    gateway = await gatewayAt(setup.host, publicAddress, dataDir, false);
  } catch (e) {
    await pbx.close();
    throw e;
  }
  const backups = new Set<LabGateway>();
  let stopped = false;
  const lab: RunningLab = {
    pbx, gateway, certs, publicAddress, adminHost, apiToken, loadUsers,
    stopGateway: async () => {
      stopped = true;
      await lab.gateway.close();
    },
    startGateway: async () => {
      lab.gateway = await gatewayAt(setup.host, publicAddress, dataDir, false);
      stopped = false;
      return lab.gateway;
    },
    startBackupGateway: async (host, dir) => {
      mkdirSync(dir, { recursive: true });
      // Its own certificate for its own address, from the lab's CA; the same MBG account and
      // secret; its admin pages on its own address.
      const own = ensureLabPki(dataDir, { gateway: [...gatewayNames(host), host], pbxApi: ['localhost', internal] }, join(dir, 'certs'));
      copyFileSync(gateway.configFile, join(dir, 'gateway.yaml'));
      const backup = await gatewayAt(host, host, dir, true, own.gateway);
      backups.add(backup);
      return { ...backup, close: async () => {
        backups.delete(backup);
        await backup.close();
      } };
    },
    close: async () => {
      for (const b of backups) await b.close().catch(() => undefined);
      if (!stopped) await lab.gateway.close();
      await pbx.close();
    },
  };
  return lab;
}
