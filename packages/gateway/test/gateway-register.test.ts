import https from 'node:https';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearRegistrations, pbxRegistersFor, startGatewayLab, USERS, type GatewayLab } from './helpers/gateway-lab.js';
import { TestSet, waitFor } from './helpers/test-set.js';

const HOST = await leaseLoopbackAddress();
const KEEPALIVE_HOST = await leaseLoopbackAddress();
/** A subscriber no test in this file registers: the "not registered" case whatever ran before. */
const NEVER_REGISTERED = { extension: '1009', name: 'Nobody', email: 'nobody@example.com', password: 'nobody-secret-9' };
type Protocol = 'udp' | 'tcp' | 'tls' | 'wss';

/** A lab on `host` and the sets its tests open, closed (and unregistered) after each test. */
function labWithSets(host: string, overrides: Parameters<typeof startGatewayLab>[1] = {}): {
  lab(): GatewayLab;
  newSet(user: string, protocol: Protocol, password?: string): Promise<TestSet>;
} {
  let lab: GatewayLab;
  const sets: TestSet[] = [];
  beforeAll(async () => {
    lab = await startGatewayLab(host, overrides);
    lab.store.addSubscriber({ ...NEVER_REGISTERED, role: 'Standard' });
    // The gateway learns of a new subscriber at its next conditional refresh.
    await lab.gateway.credentials.refresh();
  }, 60_000);
  afterEach(async () => {
    // Unregistered first: a connection closed under a registration would count as a keepalive failure.
    await clearRegistrations(lab);
    for (const set of sets.splice(0)) await set.close();
  });
  afterAll(async () => {
    await lab?.close();
  });
  return {
    lab: () => lab,
    newSet: async (user, protocol, password) => {
      const known = [...USERS, NEVER_REGISTERED].find((x) => x.extension === user);
      const port = protocol === 'tls' ? 5061 : protocol === 'wss' ? 8443 : 5060;
      const set = new TestSet({ user, password: password ?? known?.password ?? 'whatever', protocol, host, port, ca: lab.ca, path: protocol === 'wss' ? '/sip' : undefined });
      sets.push(set);
      return set.start();
    },
  };
}

/** The gateway's status page, over real TLS. */
function statusPage(lab: GatewayLab): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    https.get({ host: lab.host, port: lab.gateway.listeners.admin!.port, path: '/', ca: lab.ca, headers: { authorization: `Bearer ${lab.adminToken}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('registering through the gateway', () => {
  const { lab, newSet } = labWithSets(HOST);
  const registrationsOf = (user: string, transport: string) => lab().gateway.status().registrations.filter((r) => r.user === user && r.transport === transport);

  it('an authenticated set that has not registered may not call', async () => {
    expect(lab().gateway.context.registrations.hasUser(NEVER_REGISTERED.extension)).toBe(false);
    const set = await newSet(NEVER_REGISTERED.extension, 'tls');
    const { response } = await set.call('1001');
    expect(response.status).toBe(403);
    expect(response.reason).toBe('Forbidden (register through the gateway first)');
  });

  it.each(['tls', 'wss', 'tcp', 'udp'] as const)('a set registers over %s with MD5 and shows on the status page', async (protocol) => {
    const user = { tls: '1001', wss: '1002', tcp: '1003', udp: '1001' }[protocol];
    const set = await newSet(user, protocol);
    const { response } = await set.register();
    expect(response.status).toBe(200);
    expect(response.get('contact')).toContain(`sip:${user}@`);
    const views = registrationsOf(user, protocol.toUpperCase());
    expect(views).toHaveLength(1);
    expect(views[0].source).toMatch(/^127\.0\.0\.1:\d+$/);
    // The pbx holds the gateway's contact for the set, never the set's own address.
    const bindings = lab().store.allBindings().filter((b) => b.aor.includes(user));
    expect(bindings).toHaveLength(1);
    expect(bindings[0].contact).toContain(`@${HOST}:${lab().gateway.listeners.pbxSide[0].local.port}`);
  });

  it('a set sending +sip.instance is listed by its User-Agent, its instance URN beside it', async () => {
    const set = await newSet('1003', 'tls');
    const { response } = await set.app.request({
      method: 'REGISTER', uri: `sip:${HOST}`, destination: { protocol: 'tls', address: HOST, port: 5061 },
      from: `<sip:1003@${HOST}>`, to: `<sip:1003@${HOST}>`,
      headers: [['Contact', `${set.contact};+sip.instance="<urn:uuid:5f1c0e52-61f2-4a1e-9a55-0c2d7e0a1b11>"`], ['User-Agent', 'Zoom Phone 6.2.10 (psi-lab)']],
      auth: { username: '1003', password: 'carol-secret-3' },
    });
    expect(response.status).toBe(200);
    expect(registrationsOf('1003', 'TLS')).toEqual([expect.objectContaining({ device: 'Zoom Phone 6.2.10 (psi-lab)', instance: 'urn:uuid:5f1c0e52-61f2-4a1e-9a55-0c2d7e0a1b11' })]);
  });

  it('the HTTPS status page lists the registered sets over real TLS', async () => {
    const registered = [];
    for (const [user, protocol] of [['1001', 'tls'], ['1002', 'wss']] as const) {
      const { response, flow } = await (await newSet(user, protocol)).register();
      expect(response.status).toBe(200);
      registered.push({ user, transport: protocol.toUpperCase(), source: `${flow!.local.address}:${flow!.local.port}` });
    }
    const html = await statusPage(lab());
    for (const { user, transport, source } of registered) {
      // The set's own row: user, device, transport and the port it connected from, cell after cell.
      expect(html).toMatch(new RegExp(`<tr><td>${user}</td><td>[^<]*</td><td>${transport}</td><td>${escapeRegExp(source)}</td>`));
    }
  });

  it('a wrong password gets 403 and never reaches the pbx', async () => {
    const set = await newSet('1002', 'tcp', 'not-the-password');
    const failures = lab().gateway.status().counters.authFailures;
    const before = pbxRegistersFor(lab(), '1002');
    const { response } = await set.register();
    expect(response.status).toBe(403);
    expect(lab().gateway.status().counters.authFailures).toBe(failures + 1);
    // A REGISTER relayed to the pbx would have reached it before the 403 came back.
    expect(pbxRegistersFor(lab(), '1002')).toBe(before);
    // The control: the right password does reach the pbx, and the count above sees it.
    expect((await set.register(600, USERS[1].password)).response.status).toBe(200);
    expect(pbxRegistersFor(lab(), '1002')).toBeGreaterThan(before);
  });

  it('a reused Authorization (a refresh or unREGISTER with old credentials) gets a fresh challenge and counts as no failure', async () => {
    const set = await newSet('1003', 'tcp');
    const first = await set.register();
    expect(first.response.status).toBe(200);
    const failures = lab().gateway.status().counters.authFailures;
    const { response } = await set.app.request({
      method: 'REGISTER', uri: `sip:${HOST}`, destination: set.destination,
      from: `<sip:1003@${HOST}>`, to: `<sip:1003@${HOST}>`,
      headers: [['Contact', set.contact], ['Expires', 0], ['Authorization', first.request.get('authorization')!]],
    });
    expect(response.status).toBe(401);
    expect(lab().gateway.status().counters.authFailures).toBe(failures);
  });

  it('an unknown user gets the same answer as a wrong password (no user enumeration)', async () => {
    const set = await newSet('4999', 'tcp');
    const failures = lab().gateway.status().counters.authFailures;
    const { response } = await set.register();
    expect(response.status).toBe(403);
    // Counted as a failure: the gateway asked the pbx's API (not its SIP side) and got "unknown".
    expect(lab().gateway.status().counters.authFailures).toBe(failures + 1);
    expect(pbxRegistersFor(lab(), '4999')).toBe(0);
  });

  it('with the pbx\'s API down, known sets keep registering and an unknown user still gets a plain 403', async () => {
    const failures = lab().gateway.status().counters.authFailures;
    await lab().stopApi();
    try {
      expect(await lab().gateway.credentials.refresh()).toBe(false);
      // Sets it already knows still register: their credentials are cached.
      expect((await (await newSet('1001', 'tcp')).register()).response.status).toBe(200);
      // An outage is no oracle: an unknown user gets what it always gets.
      const { response } = await (await newSet('4998', 'tcp')).register();
      expect(response.status).toBe(403);
      expect(lab().gateway.status().counters.authFailures).toBe(failures + 1);
    } finally {
      await lab().restartApi();
      expect(await lab().gateway.credentials.refresh()).toBe(true);
    }
  });

  it('two REGISTERs of one contact at once make one binding at the pbx, and its unREGISTER removes it', async () => {
    const set = await newSet('1002', 'udp');
    const bindings = (): number => lab().store.allBindings().filter((x) => x.aor.includes('1002')).length;
    const before = bindings();
    const [a, b] = await Promise.all([set.register(), set.register()]);
    expect([a.response.status, b.response.status]).toEqual([200, 200]);
    expect(bindings()).toBe(before + 1);
    expect((await set.register(0)).response.status).toBe(200);
    expect(bindings()).toBe(before);
  });

  /** One REGISTER for 1003 with these contacts (each a device of its own). */
  const registerContacts = async (set: TestSet, contacts: string[]) => {
    const { response } = await set.app.request({
      method: 'REGISTER', uri: `sip:${HOST}`, destination: set.destination, from: `<sip:1003@${HOST}>`, to: `<sip:1003@${HOST}>`,
      headers: [['Contact', contacts.join(', ')]], auth: { username: '1003', password: USERS[2].password },
    });
    return response;
  };
  const device = (i: number): string => `<sip:1003@d${i}.invalid;transport=tcp>`;

  it('refuses a REGISTER with more than 10 contacts', async () => {
    const set = await newSet('1003', 'tcp');
    const response = await registerContacts(set, Array.from({ length: 11 }, (_, i) => device(i)));
    expect(response.status).toBe(403);
    expect(response.reason).toBe('Forbidden (at most 10 contacts in one REGISTER)');
    expect(lab().gateway.context.registrations.forUser('1003')).toHaveLength(0);
  });

  it('refuses an 11th device for a user who has 10', async () => {
    const set = await newSet('1003', 'tcp');
    expect(lab().gateway.context.registrations.forUser('1003')).toHaveLength(0);
    expect((await registerContacts(set, Array.from({ length: 10 }, (_, i) => device(i)))).status).toBe(200);
    expect(lab().gateway.context.registrations.forUser('1003')).toHaveLength(10);
    const response = await registerContacts(set, [device(10)]);
    expect(response.status).toBe(403);
    expect(response.reason).toBe('Forbidden (at most 10 devices a user)');
    // A device already bound may still refresh.
    expect((await registerContacts(set, [device(3)])).status).toBe(200);
    expect(lab().gateway.context.registrations.forUser('1003')).toHaveLength(10);
  });

  it('a registration whose connection dies is removed, here and at the pbx', async () => {
    const set = await newSet('1002', 'tls');
    expect((await set.register()).response.status).toBe(200);
    const count = (): number => registrationsOf('1002', 'TLS').length;
    expect(count()).toBe(1);
    const pbxBindings = (): number => lab().store.allBindings().filter((b) => b.aor.includes('1002')).length;
    const before = pbxBindings();
    const failures = lab().gateway.status().counters.keepaliveFailures;
    await set.app.close();
    await waitFor(() => count() === 0, undefined, 'registration removal');
    await waitFor(() => pbxBindings() === before - 1, undefined, 'pbx binding removal');
    expect(lab().gateway.status().counters.keepaliveFailures).toBe(failures + 1);
  });
});

// Its own lab: the gateway starts before its pbx's API answers.
describe('registering through a gateway that could not read any credentials yet', () => {
  let lab: GatewayLab;
  beforeAll(async () => {
    lab = await startGatewayLab(await leaseLoopbackAddress(), {}, { apiDown: true });
  }, 60_000);
  afterAll(async () => {
    await lab?.close();
  });

  it('answers 503 with Retry-After and counts nothing, then registers once the pbx answers', async () => {
    expect(lab.gateway.credentials.ready).toBe(false);
    const set = await new TestSet({ user: '1001', password: USERS[0].password, protocol: 'tcp', host: lab.host, port: 5060 }).start();
    try {
      const { response } = await set.register();
      expect(response.status).toBe(503);
      expect(response.get('retry-after')).toBe('30');
      expect(lab.gateway.status().counters.authFailures).toBe(0);
      await lab.restartApi();
      expect(await lab.gateway.credentials.refresh()).toBe(true);
      expect((await set.register()).response.status).toBe(200);
    } finally {
      await clearRegistrations(lab);
      await set.close();
    }
  });
});

// Its own lab: a 1 s keepalive, with its 2 s answer deadline, would remove the other tests' sets
// whenever this machine stalls for 2 s.
describe('registering through the gateway: keepalive', () => {
  const { lab, newSet } = labWithSets(KEEPALIVE_HOST, { keepalive: { optionsIntervalSeconds: 1 } });

  it('a set that stops answering the keepalive OPTIONS is removed', async () => {
    const set = await newSet('1003', 'udp');
    expect((await set.register()).response.status).toBe(200);
    const count = (): number => lab().gateway.status().registrations.filter((r) => r.user === '1003' && r.transport === 'UDP').length;
    expect(count()).toBe(1);
    const failures = lab().gateway.status().counters.keepaliveFailures;
    // A set that goes silent: its socket drops everything from now on.
    set.app.requestFilter = () => false;
    await waitFor(() => count() === 0, 15_000, 'keepalive removal');
    expect(lab().gateway.status().counters.keepaliveFailures).toBe(failures + 1);
  }, 30_000);
});
