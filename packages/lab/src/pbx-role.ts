import { SqliteStore, seedDefaults, startManagementApi, startPbx, type RunningPbx } from '@psi-lab/pbx';
import type { Logger } from 'pino';
import type { LabUser } from './users.js';

export const LAB_REALM = 'psi-lab';
export const PBX_SIP_PORT = 5070;
export const PBX_API_PORT = 8070;

export interface LabPbx {
  pbx: RunningPbx;
  /** The management API's base URL (https). */
  apiUrl: string;
  apiPort: number;
  store: SqliteStore;
  close(): Promise<void>;
}

/**
 * The MiVoice 5000 role of the lab: its database, subscribers, SIP and management API (HTTPS),
 * on the site's LAN address (`host`): sets never reach it but through the gateway.
 */
export async function startLabPbx(options: {
  dbFile: string; host: string; users: LabUser[]; zoomUsers: Set<string>; token: string; logger: Logger; sipTrace: boolean; trunk?: string;
  /** The API's certificate and key (PEM files). */
  apiTls: { certFile: string; keyFile: string };
}): Promise<LabPbx> {
  // NORMAL: with WAL a committed change still survives kill -9; only a power cut could cost the last ones.
  const store = SqliteStore.open(options.dbFile, { realm: LAB_REALM, synchronous: 'NORMAL' });
  seedDefaults(store);
  for (const u of options.users) {
    if (store.getSubscriber(u.extension)) continue;
    store.addSubscriber({ ...u, role: options.zoomUsers.has(u.extension) ? 'Zoom PSI User' : 'Standard' });
  }
  const trunk = options.trunk ? { address: options.trunk.slice(0, options.trunk.lastIndexOf(':')), port: Number(options.trunk.slice(options.trunk.lastIndexOf(':') + 1)) } : undefined;
  const pbx = await startPbx({ store, host: options.host, port: PBX_SIP_PORT, logger: options.logger, sipTrace: options.sipTrace, trunk });
  const api = await startManagementApi({ store, token: options.token, host: options.host, port: PBX_API_PORT, tls: options.apiTls, logger: options.logger, blocks: pbx.blocker });
  return {
    pbx, store, apiUrl: api.url, apiPort: api.port,
    close: async () => {
      await api.close();
      await pbx.close();
      store.close();
    },
  };
}
