import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipApp, parseMessage, type RequestOptions, type SipResponse } from '@psi-lab/sip';
import { leaseLoopbackAddress, udpExchange, waitFor } from '@psi-lab/testkit';
import { startPbx, type RunningPbx } from '../src/index.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const REALM = 'pbx.psi-lab.test';
/** Source addresses of this file's own: one to be blocked, one on the Allow-List. */
const ATTACKER = await leaseLoopbackAddress();
const GATEWAY = await leaseLoopbackAddress();
/** Neither the MBG nor on a site network: the pbx must not hear it at all. */
const STRANGER = await leaseLoopbackAddress();
const DESK_PHONES = ['<sip:1001@10.1.1.1:5060>', '<sip:1001@10.1.1.2:5062>;q=0.5', '<sip:1001@10.1.1.3:5064;transport=tcp>'];

function seed(store: SqliteStore): void {
  store.addSubscriber({ extension: '1001', name: 'Alice', email: 'alice@psi-lab.test', password: 'alice-secret-1' });
  store.addSubscriber({ extension: '1002', name: 'Bob', email: 'bob@psi-lab.test', password: 'bob-secret-22' });
  // The test's own phones are desk phones on the site's network.
  store.addSiteNetwork('127.0.0.1/32', 'the test phones');
}

describe('pbx registrar (RFC 3261 §10) over real sockets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-pbx-reg-'));
  const dbFile = join(dir, 'pbx.db');
  let store: SqliteStore;
  let pbx: RunningPbx;
  let clock = Date.now();
  // Default timers: an answer may take the full 32 s of Timer F on a busy machine.
  const client = new SipApp();
  const pbxOptions = () => ({ store, port: 0, now: () => clock, blockPolicy: { maxFailures: 3 } });

  beforeAll(async () => {
    store = SqliteStore.open(dbFile, { realm: REALM });
    seed(store);
    pbx = await startPbx(pbxOptions());
    await client.listen({ protocol: 'udp', port: 0 });
  });
  // Each test starts with nobody registered and registers what it asserts on.
  beforeEach(() => {
    store.replaceBindings('1001', []);
    store.replaceBindings('1002', []);
  });
  afterAll(async () => {
    await client.close();
    await pbx.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (extra: Partial<RequestOptions> & { contact?: string | string[] } = {}, user = '1001', password = 'alice-secret-1') => {
    const contacts = extra.contact === undefined ? [] : Array.isArray(extra.contact) ? extra.contact : [extra.contact];
    const headers: Array<[string, string]> = contacts.map((c) => ['Contact', c]);
    for (const [k, v] of Object.entries(extra.headers ?? {})) headers.push([k, String(v)]);
    return client.request({
      method: 'REGISTER', uri: `sip:${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      to: `<sip:${user}@${REALM}>`, from: `<sip:${user}@${REALM}>`, auth: { username: user, password }, ...extra, headers,
    });
  };
  const contactsOf = (value: string[]) => value.map((c) => /<([^>]+)>/.exec(c)?.[1]).sort();

  it('binds several contacts of one address of record (desk phone, desktop, mobile)', async () => {
    const { response } = await register({ contact: ['<sip:1001@10.1.1.1:5060>', '<sip:1001@10.1.1.2:5062>;q=0.5'], headers: { Expires: 600 } });
    expect(response.status).toBe(200);
    const second = await register({ contact: '<sip:1001@10.1.1.3:5064;transport=tcp>', headers: { Expires: 600 } });
    expect(contactsOf(second.response.getAll('contact'))).toEqual(['sip:1001@10.1.1.1:5060', 'sip:1001@10.1.1.2:5062', 'sip:1001@10.1.1.3:5064;transport=tcp']);
    expect(second.response.getAll('contact').find((c) => c.includes('10.1.1.2'))).toMatch(/;expires=600;q=0.5/);
    expect(store.bindings('1001')).toHaveLength(3);
  });

  it('answers a query (no Contact) with the current bindings', async () => {
    expect((await register({ contact: DESK_PHONES, headers: { Expires: 600 } })).response.status).toBe(200);
    const { response } = await register();
    expect(response.status).toBe(200);
    expect(contactsOf(response.getAll('contact'))).toEqual(['sip:1001@10.1.1.1:5060', 'sip:1001@10.1.1.2:5062', 'sip:1001@10.1.1.3:5064;transport=tcp']);
  });

  it('refuses an interval shorter than Min-Expires with 423', async () => {
    const { response } = await register({ contact: '<sip:1001@10.1.1.9>', headers: { Expires: 10 } });
    expect(response.status).toBe(423);
    expect(response.get('min-expires')).toBe('60');
  });

  it('removes one contact with expires=0, and all with Contact: * and Expires: 0', async () => {
    expect((await register({ contact: DESK_PHONES, headers: { Expires: 600 } })).response.getAll('contact')).toHaveLength(3);
    const one = await register({ contact: '<sip:1001@10.1.1.1:5060>;expires=0' });
    expect(contactsOf(one.response.getAll('contact'))).toEqual(['sip:1001@10.1.1.2:5062', 'sip:1001@10.1.1.3:5064;transport=tcp']);
    const bad = await register({ contact: '*', headers: { Expires: 5 } });
    expect(bad.response.status).toBe(400);
    const all = await register({ contact: '*', headers: { Expires: 0 } });
    expect(all.response.status).toBe(200);
    expect(all.response.getAll('contact')).toHaveLength(0);
    expect(store.bindings('1001')).toHaveLength(0);
  });

  it('lets expired bindings lapse and reaps them', async () => {
    expect((await register({ contact: '<sip:1001@10.1.1.5>', headers: { Expires: 60 } })).response.getAll('contact')).toHaveLength(1);
    clock += 61_000;
    const { response } = await register();
    expect(response.getAll('contact')).toHaveLength(0);
    expect(store.reapBindings(clock)).toBe(1);
  });

  it('replaces an RFC 5626 flow by instance and reg-id, and keeps the Path', async () => {
    const instance = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    await register({ contact: `<sip:1002@10.2.2.2:5060;ob>;${instance};reg-id=1`, headers: { Supported: 'outbound, path', Path: '<sip:gw.psi-lab.test;lr>' } }, '1002', 'bob-secret-22');
    const { response } = await register({ contact: `<sip:1002@10.2.2.99:6000;ob>;${instance};reg-id=1`, headers: { Supported: 'outbound, path', Path: '<sip:gw.psi-lab.test;lr>' } }, '1002', 'bob-secret-22');
    expect(response.status).toBe(200);
    expect(contactsOf(response.getAll('contact'))).toEqual(['sip:1002@10.2.2.99:6000;ob']);
    expect(response.get('require')).toBe('outbound');
    expect(response.get('path')).toBe('<sip:gw.psi-lab.test;lr>');
    expect(store.bindings('1002')[0].path).toEqual(['<sip:gw.psi-lab.test;lr>']);
  });

  it('refuses a repeated CSeq of the same Call-ID (RFC 3261 §10.3 step 7)', async () => {
    const first = await register({ contact: '<sip:1001@10.1.1.7>', callId: 'same-call-id', cseq: 5 });
    expect(first.response.status).toBe(200);
    const replay = await register({ contact: '<sip:1001@10.1.1.7>', callId: 'same-call-id', cseq: 3 });
    expect(replay.response.status).toBe(500);
  });

  it('forbids registering someone else (403) and gives no hint of which extensions exist', async () => {
    const other = await client.request({ method: 'REGISTER', uri: `sip:${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port }, to: `<sip:1002@${REALM}>`, from: `<sip:1001@${REALM}>`, auth: { username: '1001', password: 'alice-secret-1' }, headers: { Contact: '<sip:x@10.9.9.9>' } });
    expect(other.response.status).toBe(403);
    const unknown = await register({}, '1999', 'whatever-pass');
    const wrong = await register({}, '1001', 'not-the-password');
    expect(unknown.response.status).toBe(401);
    expect(wrong.response.status).toBe(401);
    expect(unknown.response.reason).toBe(wrong.response.reason);
  });

  it('keeps subscribers and bindings across a restart', async () => {
    expect((await register({ contact: '<sip:1001@10.1.1.8>', headers: { Expires: 3600 } })).response.status).toBe(200);
    await pbx.close();
    store.close();
    store = SqliteStore.open(dbFile, { realm: REALM });
    pbx = await startPbx(pbxOptions());
    expect(store.getSubscriber('1001')?.email).toBe('alice@psi-lab.test');
    const { response } = await register();
    expect(contactsOf(response.getAll('contact'))).toContain('sip:1001@10.1.1.8');
  });
});

describe('pbx SIP security', () => {
  let store: SqliteStore;
  let pbx: RunningPbx;
  const clients: SipApp[] = [];
  beforeAll(async () => {
    store = SqliteStore.open(':memory:', { realm: REALM });
    seed(store);
    store.addAllowListEntry(`${GATEWAY}/32`, 'the gateway');
    store.setMbg({ address: GATEWAY, publicFqdn: 'gateway.test', account: 'mbg', sharedSecret: 'mbg-shared-secret' });
    store.addSiteNetwork(`${ATTACKER}/32`, 'an on-site phone gone bad');
    pbx = await startPbx({ store, port: 0, blockPolicy: { maxFailures: 3 } });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });
  afterAll(async () => {
    await pbx.close();
    store.close();
  });

  async function clientFrom(address: string): Promise<SipApp> {
    const c = new SipApp();
    await c.listen({ protocol: 'udp', host: address, port: 0 });
    clients.push(c);
    return c;
  }
  const wrongRegister = (c: SipApp) => c.request({ method: 'REGISTER', uri: `sip:${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port }, to: `<sip:1001@${REALM}>`, from: `<sip:1001@${REALM}>`, auth: { username: '1001', password: 'wrong-password' } });

  /** A REGISTER without credentials, sent from `address` on a socket of its own (no retransmissions). */
  const probe = (callId: string): Buffer => Buffer.from(`REGISTER sip:${REALM} SIP/2.0\r\nVia: SIP/2.0/UDP ${ATTACKER}:9;branch=z9hG4bK${callId};rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@${REALM}>;tag=p\r\nTo: <sip:1001@${REALM}>\r\nCall-ID: ${callId}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`);

  it('blocks a source after too many failed authentications: it gets no answer at all', async () => {
    const attacker = await clientFrom(ATTACKER);
    // The positive path first: the probe is answered while the source is not blocked.
    const [challenge] = await udpExchange(probe('before-block'), { address: '127.0.0.1', port: pbx.port }, { fromAddress: ATTACKER, expect: 1 });
    expect((parseMessage(challenge) as SipResponse).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await wrongRegister(attacker)).response.status).toBe(401);
    expect(pbx.blocker.list().map((b) => b.address)).toEqual([ATTACKER]);

    // Blocked: the pbx drops the probe before parsing it (its own decision, counted), and so never answers.
    const sock = dgram.createSocket('udp4');
    const answers: Buffer[] = [];
    sock.on('message', (m) => answers.push(m));
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(0, ATTACKER, () => resolve());
      });
      const dropped = pbx.app.transport.stats.dropped;
      sock.send(probe('while-blocked'), pbx.port, '127.0.0.1');
      await waitFor(() => pbx.app.transport.stats.dropped > dropped, 10_000, 'the pbx to drop the blocked source\'s REGISTER');
      // The pbx decided to drop it, so nothing is on its way: nothing to wait for.
      expect(answers).toEqual([]);
    } finally {
      sock.close();
    }

    // Lifted through the API's block source, it is answered again.
    expect(pbx.blocker.lift(ATTACKER)).toBe(true);
    expect((await wrongRegister(attacker)).response.status).toBe(401);
  }, 30_000);

  it('does not hear a source that is neither its MBG nor on a site network: dropped unanswered, counted nowhere', async () => {
    const dropped = pbx.app.transport.stats.dropped;
    const sock = dgram.createSocket('udp4');
    const answers: Buffer[] = [];
    sock.on('message', (m) => answers.push(m));
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(0, STRANGER, () => resolve());
      });
      sock.send(probe('stranger'), pbx.port, '127.0.0.1');
      await waitFor(() => pbx.app.transport.stats.dropped > dropped, 10_000, 'the pbx to drop the stranger\'s REGISTER');
      expect(answers).toEqual([]);
      expect(pbx.blocker.list()).toEqual([]);
    } finally {
      sock.close();
    }
    // The MBG is heard without being on a site network.
    const gateway = await clientFrom(GATEWAY);
    expect((await gateway.request({ method: 'OPTIONS', uri: `sip:${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port } })).response.status).toBe(200);
  });

  it('never blocks an address on the Allow-List', async () => {
    const gateway = await clientFrom(GATEWAY);
    for (let i = 0; i < 6; i++) expect((await wrongRegister(gateway)).response.status).toBe(401);
    expect(pbx.blocker.list().map((b) => b.address)).not.toContain(GATEWAY);
  });
});
