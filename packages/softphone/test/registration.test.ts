import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone, type PhoneOptions } from '../src/index.js';
import { startTestLab, type TestLab } from './helpers/lab.js';

const HOST = '127.0.0.31';
const BACKUP = '127.0.0.32';

describe('the Phone tab registering through the lab gateway', () => {
  let lab: TestLab;
  const phones: Phone[] = [];
  const phone = (options: Partial<PhoneOptions> & { user: string }): Phone => {
    const p = new Phone({
      servers: [`tls://${HOST}:5061`], ca: lab.ca, reconnectDelayMs: { min: 200, max: 1000 },
      mediaFactory: () => {
        throw new Error('no calls in this test');
      },
      ...options,
    });
    phones.push(p);
    return p;
  };

  beforeAll(async () => {
    lab = await startTestLab(HOST);
  });
  afterAll(async () => {
    for (const p of phones) await p.close();
    await lab.close();
  });

  it('shows "Pending SIP credentials" until it has any, then "Idle"', () => {
    expect(phone({ user: '1001' }).status).toBe('Pending SIP credentials');
    expect(phone({ user: '1001', password: 'alice-1001' }).status).toBe('Idle');
  });

  it.each([
    ['TLS', `tls://${HOST}:5061`, '1001', 'alice-1001'],
    ['WSS', `wss://${HOST}:8443/sip`, '1002', 'bob-1002'],
  ])('registers over %s and the gateway lists it', async (transport, server, user, password) => {
    const p = phone({ user, password, servers: [server] });
    expect(await p.register()).toBe('Registered');
    const sets = lab.gateway.gateway.status().registrations;
    expect(sets).toEqual(expect.arrayContaining([expect.objectContaining({ user, transport })]));
  });

  it('registers with the HA1 hash alone, as the Zoom client gets its credentials', async () => {
    const ha1 = createHash('md5').update('1003:psi-lab:carol-1003').digest('hex');
    const p = phone({ user: '1003', ha1 });
    expect(await p.register()).toBe('Registered');
  });

  it('shows the SIP error code and reason for a wrong password', async () => {
    const p = phone({ user: '1001', password: 'wrong-password' });
    expect(await p.register()).toBe('403 Forbidden');
    expect(p.status).toBe('403 Forbidden');
  });

  it('shows 503 when no gateway answers', async () => {
    const p = phone({ user: '1001', password: 'alice-1001', servers: [`tls://${HOST}:5999`] });
    expect(await p.register()).toBe('503 Service Unavailable');
    await p.close();
  });

  it('fails over to the backup gateway when the primary is stopped, and back when it returns', async () => {
    await lab.startBackupGateway(BACKUP);
    const p = phone({ user: '1002', password: 'bob-1002', servers: [`tls://${HOST}:5061`, `tls://${BACKUP}:5061`], failbackIntervalMs: 300 });
    const servers: string[] = [];
    p.on('server', (s) => servers.push(s.host));
    expect(await p.register()).toBe('Registered');
    expect(p.server?.host).toBe(HOST);
    await lab.stopGateway();
    await waitFor(() => p.server?.host === BACKUP && p.status === 'Registered', 10_000, 'registration on the backup');
    await lab.startGateway();
    await waitFor(() => p.server?.host === HOST && p.status === 'Registered', 10_000, 'registration back on the primary');
    expect(servers).toEqual([HOST, BACKUP, HOST]);
    expect(lab.gateway.gateway.status().registrations.some((r) => r.user === '1002' && r.transport === 'TLS')).toBe(true);
  }, 30_000);
});

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
