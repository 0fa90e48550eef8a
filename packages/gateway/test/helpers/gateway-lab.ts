import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, seedDefaults, startManagementApi, startPbx, type RunningPbx } from '@psi-lab/pbx';
import type { SipRequest } from '@psi-lab/sip';
import type { GatewayConfigInput } from '../../src/index.js';
import { resolveGatewayConfig, startGateway, type RunningGateway } from '../../src/index.js';
import { unregister } from '../../src/registrations/register-relay.js';

export const REALM = 'psi-lab';
export const USERS = [
  { extension: '1001', name: 'Alice', email: 'alice@example.com', password: 'alice-secret-1' },
  { extension: '1002', name: 'Bob', email: 'bob@example.com', password: 'bob-secret-22' },
  { extension: '1003', name: 'Carol', email: 'carol@example.com', password: 'carol-secret-3' },
];
/** The pbx's SIP and management ports: fixed, on the lab's own address, so a restart finds them free. */
const PBX_SIP_PORT = 5070;
const PBX_API_PORT = 8070;

export interface GatewayLab {
  host: string;
  pbx: RunningPbx;
  store: SqliteStore;
  gateway: RunningGateway;
  ca: string;
  dir: string;
  /** Every request the pbx's SIP side received, in order (retransmissions included). */
  pbxRequests: SipRequest[];
  /** Stops the pbx's management API (where the gateway reads credentials), to see the gateway cope. */
  stopApi(): Promise<void>;
  /** Starts it again, on the same address and port. */
  restartApi(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A pbx and a gateway bound to it, on one loopback address of their own (each test file leases
 * another, so the gateway keeps its usual ports without colliding).
 */
export async function startGatewayLab(host: string, overrides: GatewayConfigInput = {}): Promise<GatewayLab> {
  const dir = mkdtempSync(join(tmpdir(), 'psi-gw-'));
  const store = SqliteStore.open(join(dir, 'pbx.db'), { realm: REALM });
  seedDefaults(store);
  for (const u of USERS) store.addSubscriber({ ...u, role: 'Standard' });
  store.setMbg({ address: host, publicFqdn: 'gateway.lab', account: 'mbg', sharedSecret: 'mbg-shared-secret' });
  store.addAllowListEntry(`${host}/32`, 'the gateway');
  const traceLogger = process.env.GW_TRACE ? (await import('pino')).default({ level: 'debug' }) : undefined;
  const pbx = await startPbx({ store, host, port: PBX_SIP_PORT, logger: traceLogger?.child({ role: 'pbx' }), sipTrace: !!traceLogger });
  const pbxRequests: SipRequest[] = [];
  pbx.app.transport.on('request', (request) => pbxRequests.push(request));
  const startApi = (): ReturnType<typeof startManagementApi> => startManagementApi({ store, token: 't', host, port: PBX_API_PORT });
  let api: Awaited<ReturnType<typeof startManagementApi>> | undefined = await startApi();
  const config = resolveGatewayConfig({
    ...overrides,
    sip: { host, ...overrides.sip },
    https: { ...overrides.https },
    certificate: { dir: join(dir, 'certs'), ...overrides.certificate },
    pbx: { address: host, port: pbx.port, localHost: host, api: `http://${host}:${PBX_API_PORT}`, account: 'mbg', secret: 'mbg-shared-secret', ...overrides.pbx },
    log: { level: 'silent', ...overrides.log, ...(process.env.GW_TRACE ? { sipTrace: true } : {}) },
  }, dir);
  const gateway = await startGateway(config, { handleSighup: false, logger: traceLogger?.child({ role: 'gw' }) });
  const stopApi = async (): Promise<void> => {
    await api?.close().catch(() => undefined);
    api = undefined;
  };
  return {
    host, pbx, store, gateway, dir, pbxRequests, stopApi,
    ca: readFileSync(join(dir, 'certs', 'ca.pem'), 'utf8'),
    restartApi: async () => {
      await stopApi();
      api = await startApi();
    },
    close: async () => {
      await gateway.close();
      await stopApi();
      await pbx.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The user part of a request's To header (who a REGISTER is for). */
export function toUser(request: SipRequest): string | undefined {
  return /sip:([^@;>]+)@/.exec(request.get('to') ?? '')?.[1];
}

/** How many REGISTERs for `user` (refreshes and unREGISTERs included) the pbx has received. */
export function pbxRegistersFor(lab: GatewayLab, user: string): number {
  return lab.pbxRequests.filter((r) => r.method === 'REGISTER' && toUser(r) === user).length;
}

/**
 * Removes every registration the gateway holds, here and at the pbx (each unREGISTER answered),
 * so the next test starts with none: no binding left for the pbx to fork calls to, no set
 * whose later removal moves a counter the next test reads.
 */
export async function clearRegistrations(lab: GatewayLab): Promise<void> {
  const ctx = lab.gateway.context;
  await Promise.all([...ctx.registrations.all()].map((reg) => unregister(ctx, reg, 'test cleanup')));
}
