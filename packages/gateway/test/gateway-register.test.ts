import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayLab, USERS, type GatewayLab } from './helpers/gateway-lab.js';
import { TestSet, waitFor } from './helpers/test-set.js';

const HOST = '127.0.0.21';

describe('registering through the gateway', () => {
  let lab: GatewayLab;
  const sets: TestSet[] = [];
  const newSet = async (user: string, protocol: 'udp' | 'tcp' | 'tls' | 'wss', password?: string): Promise<TestSet> => {
    const u = USERS.find((x) => x.extension === user)!;
    const port = protocol === 'tls' ? 5061 : protocol === 'wss' ? 8443 : 5060;
    const set = await new TestSet({ user, password: password ?? u.password, protocol, host: HOST, port, ca: lab.ca, path: protocol === 'wss' ? '/sip' : undefined }).start();
    sets.push(set);
    return set;
  };

  beforeAll(async () => {
    lab = await startGatewayLab(HOST, { keepalive: { optionsIntervalSeconds: 1 } });
  });
  afterAll(async () => {
    for (const s of sets) await s.close();
    await lab.close();
  });

  it('an authenticated set that has not registered may not call', async () => {
    const set = await newSet('1003', 'tls');
    const { response } = await set.call('1001');
    expect(response.status).toBe(403);
  });

  it.each(['tls', 'wss', 'tcp', 'udp'] as const)('a set registers over %s with MD5 and shows on the status page', async (protocol) => {
    const user = { tls: '1001', wss: '1002', tcp: '1003', udp: '1001' }[protocol];
    const set = await newSet(user, protocol);
    const { response } = await set.register();
    expect(response.status).toBe(200);
    expect(response.get('contact')).toContain(`sip:${user}@`);
    const view = lab.gateway.status().registrations.find((r) => r.user === user && r.transport === protocol.toUpperCase());
    expect(view).toBeDefined();
    expect(view!.source).toMatch(/^127\.0\.0\.1:\d+$/);
    // The pbx holds the gateway's contact for the set, never the set's own address.
    const bindings = lab.store.bindings(`sip:${user}@psi-lab`).length > 0 ? lab.store.bindings(`sip:${user}@psi-lab`) : lab.store.allBindings().filter((b) => b.aor.includes(user));
    expect(bindings.length).toBeGreaterThan(0);
    for (const b of bindings) expect(b.contact).toContain(`@${HOST}:5062`);
  });

  it('the HTTPS status page lists the registered sets over real TLS', async () => {
    const html = await new Promise<string>((resolve, reject) => {
      https.get({ host: HOST, port: 8443, path: '/', ca: lab.ca, servername: undefined }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(html).toContain('1001');
    expect(html).toContain('TLS');
    expect(html).toContain('WSS');
  });

  it('a wrong password gets 403 and never reaches the pbx', async () => {
    const set = await newSet('1002', 'tcp', 'not-the-password');
    const before = lab.pbx.app.transport.stats.received;
    const { response } = await set.register();
    expect(response.status).toBe(403);
    expect(lab.pbx.app.transport.stats.received).toBe(before);
    expect(lab.gateway.status().counters.authFailures).toBeGreaterThan(0);
  });

  it('a reused Authorization (a refresh or unREGISTER with old credentials) gets a fresh challenge and counts as no failure', async () => {
    const set = await newSet('1003', 'tcp');
    const first = await set.register();
    expect(first.response.status).toBe(200);
    const failures = lab.gateway.status().counters.authFailures;
    const { response } = await set.app.request({
      method: 'REGISTER', uri: `sip:${HOST}`, destination: set.destination,
      from: `<sip:1003@${HOST}>`, to: `<sip:1003@${HOST}>`,
      headers: [['Contact', set.contact], ['Expires', 0], ['Authorization', first.request.get('authorization')!]],
    });
    expect(response.status).toBe(401);
    expect(lab.gateway.status().counters.authFailures).toBe(failures);
  });

  it('an unknown user gets the same answer as a wrong password (no user enumeration)', async () => {
    const set = new TestSet({ user: '4999', password: 'whatever', protocol: 'tcp', host: HOST, port: 5060 });
    sets.push(await set.start());
    const before = lab.pbx.app.transport.stats.received;
    const { response } = await set.register();
    expect(response.status).toBe(403);
    // The credential lookup for an unknown user goes to the pbx's API, not its SIP side.
    expect(lab.pbx.app.transport.stats.received).toBe(before);
  });

  it('with the pbx\'s API down, a user the gateway cannot check gets 503, and nothing counts as a failure', async () => {
    const failures = lab.gateway.status().counters.authFailures;
    await lab.api.close();
    await lab.gateway.credentials.refresh();
    const set = new TestSet({ user: '4998', password: 'whatever', protocol: 'tcp', host: HOST, port: 5060 });
    sets.push(await set.start());
    const { response } = await set.register();
    expect(response.status).toBe(503);
    expect(response.get('retry-after')).toBe('30');
    expect(lab.gateway.status().counters.authFailures).toBe(failures);
    // Sets it already knows still register: their credentials are cached.
    expect((await (await newSet('1001', 'tcp')).register()).response.status).toBe(200);
  });

  it('two REGISTERs of one contact at once make one binding at the pbx, and its unREGISTER removes it', async () => {
    const set = await newSet('1002', 'udp');
    const before = lab.store.allBindings().filter((b) => b.aor.includes('1002')).length;
    const [a, b] = await Promise.all([set.register(), set.register()]);
    expect([a.response.status, b.response.status]).toEqual([200, 200]);
    expect(lab.store.allBindings().filter((x) => x.aor.includes('1002')).length).toBe(before + 1);
    expect((await set.register(0)).response.status).toBe(200);
    expect(lab.store.allBindings().filter((x) => x.aor.includes('1002')).length).toBe(before);
  });

  it('refuses a REGISTER with more contacts than a user has devices', async () => {
    const set = await newSet('1003', 'tcp');
    const contacts = Array.from({ length: 11 }, (_, i) => `<sip:1003@d${i}.invalid;transport=tcp>`).join(', ');
    const { response } = await set.app.request({
      method: 'REGISTER', uri: `sip:${HOST}`, destination: set.destination, from: `<sip:1003@${HOST}>`, to: `<sip:1003@${HOST}>`,
      headers: [['Contact', contacts]], auth: { username: '1003', password: 'carol-secret-3' },
    });
    expect(response.status).toBe(403);
  });

  it('a registration whose connection dies is removed, here and at the pbx', async () => {
    const set = await newSet('1002', 'tls');
    expect((await set.register()).response.status).toBe(200);
    const count = (): number => lab.gateway.status().registrations.filter((r) => r.user === '1002' && r.transport === 'TLS').length;
    expect(count()).toBe(1);
    const pbxBindings = (): number => lab.store.allBindings().filter((b) => b.aor.includes('1002')).length;
    const before = pbxBindings();
    await set.app.close();
    await waitFor(() => count() === 0, 5000, 'registration removal');
    await waitFor(() => pbxBindings() === before - 1, 5000, 'pbx binding removal');
  });

  it('a set that stops answering the keepalive OPTIONS is removed', async () => {
    const set = await newSet('1003', 'udp');
    expect((await set.register()).response.status).toBe(200);
    const count = (): number => lab.gateway.status().registrations.filter((r) => r.user === '1003' && r.transport === 'UDP').length;
    expect(count()).toBe(1);
    // A set that goes silent: its socket drops everything from now on.
    set.app.requestFilter = () => false;
    await waitFor(() => count() === 0, 10_000, 'keepalive removal');
    expect(lab.gateway.status().counters.keepaliveFailures).toBeGreaterThan(0);
  }, 20_000);
});
