import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LabGateway } from '@psi-lab/lab';
import { Phone, type PhoneOptions } from '../src/index.js';
import { startTestLab, type TestLab } from './helpers/lab.js';
import { leaseLoopbackAddress, waitFor } from '@psi-lab/testkit';

const HOST = await leaseLoopbackAddress();
const BACKUP = await leaseLoopbackAddress();

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

  /** The gateway's bindings for a user over a transport. */
  const bindingsOf = (user: string, transport: string): number =>
    lab.gateway.gateway.status().registrations.filter((r) => r.user === user && r.transport === transport).length;

  beforeAll(async () => {
    lab = await startTestLab(HOST);
  });
  // Even when a test fails: a phone left registered would still be there for the next test.
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
  });
  afterAll(async () => {
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
    const before = bindingsOf(user, transport);
    const p = phone({ user, password, servers: [server] });
    expect(await p.register()).toBe('Registered');
    expect(bindingsOf(user, transport)).toBe(before + 1);
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
  });

  describe('with a backup gateway', () => {
    let backup: LabGateway;
    let primaryStopped = false;
    beforeAll(async () => {
      backup = await lab.startBackupGateway(BACKUP);
    });
    afterAll(async () => {
      // A failed run must not leave the next one without its primary, or with a backup still up.
      if (primaryStopped) await lab.startGateway();
      await backup.close();
    });

    it('fails over to the backup gateway when the primary is stopped, and back when it returns', async () => {
      const p = phone({ user: '1002', password: 'bob-1002', servers: [`tls://${HOST}:5061`, `tls://${BACKUP}:5061`], failbackIntervalMs: 300 });
      const servers: string[] = [];
      p.on('server', (s) => servers.push(s.host));
      expect(await p.register()).toBe('Registered');
      expect(p.server?.host).toBe(HOST);
      primaryStopped = true;
      await lab.stopGateway();
      await waitFor(() => p.server?.host === BACKUP && p.status === 'Registered', 20_000,
        () => `registration on the backup (server ${p.server?.host}, status ${p.status})`);
      await lab.startGateway();
      primaryStopped = false;
      await waitFor(() => p.server?.host === HOST && p.status === 'Registered', 20_000,
        () => `registration back on the primary (server ${p.server?.host}, status ${p.status})`);
      expect(servers).toEqual([HOST, BACKUP, HOST]);
      expect(bindingsOf('1002', 'TLS')).toBe(1);
    }, 60_000);
  });
});
