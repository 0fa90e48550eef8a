import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, seedDefaults, startManagementApi, startPbx, type RunningPbx } from '@psi-lab/pbx';
import type { GatewayConfigInput } from '../../src/index.js';
import { resolveGatewayConfig, startGateway, type RunningGateway } from '../../src/index.js';

export const REALM = 'psi-lab';
export const USERS = [
  { extension: '1001', name: 'Alice', email: 'alice@example.com', password: 'alice-secret-1' },
  { extension: '1002', name: 'Bob', email: 'bob@example.com', password: 'bob-secret-22' },
  { extension: '1003', name: 'Carol', email: 'carol@example.com', password: 'carol-secret-3' },
];

export interface GatewayLab {
  host: string;
  pbx: RunningPbx;
  store: SqliteStore;
  gateway: RunningGateway;
  ca: string;
  dir: string;
  /** The pbx's management API (where the gateway reads credentials): stop it to see the gateway cope. */
  api: { close(): Promise<void> };
  close(): Promise<void>;
}

/**
 * A pbx and a gateway bound to it, on one loopback address of their own (each test file takes
 * another 127.0.0.x, so the gateway keeps its usual ports without colliding).
 */
export async function startGatewayLab(host: string, overrides: GatewayConfigInput = {}): Promise<GatewayLab> {
  const dir = mkdtempSync(join(tmpdir(), 'psi-gw-'));
  const store = SqliteStore.open(join(dir, 'pbx.db'), { realm: REALM });
  seedDefaults(store);
  for (const u of USERS) store.addSubscriber({ ...u, role: 'Standard' });
  store.setMbg({ address: host, publicFqdn: 'gateway.lab', account: 'mbg', sharedSecret: 'mbg-shared-secret' });
  store.addAllowListEntry(`${host}/32`, 'the gateway');
  const traceLogger = process.env.GW_TRACE ? (await import('pino')).default({ level: 'debug' }) : undefined;
  const pbx = await startPbx({ store, host, port: 5070, logger: traceLogger?.child({ role: 'pbx' }), sipTrace: !!traceLogger });
  const api = await startManagementApi({ store, token: 't', host, port: 0 });
  const config = resolveGatewayConfig({
    ...overrides,
    sip: { host, ...overrides.sip },
    https: { ...overrides.https },
    certificate: { dir: join(dir, 'certs'), ...overrides.certificate },
    pbx: { address: host, port: pbx.port, localHost: host, api: `http://${host}:${api.port}`, account: 'mbg', secret: 'mbg-shared-secret', ...overrides.pbx },
    log: { level: 'silent', ...overrides.log, ...(process.env.GW_TRACE ? { sipTrace: true } : {}) },
  }, dir);
  const gateway = await startGateway(config, { handleSighup: false, logger: traceLogger?.child({ role: 'gw' }) });
  return {
    host, pbx, store, gateway, dir, api,
    ca: readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8'),
    close: async () => {
      await gateway.close();
      await api.close().catch(() => undefined);
      await pbx.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
