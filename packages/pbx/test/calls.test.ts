import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SipApp, type IncomingRequest, type OutgoingResponse, type SipRequest } from '@psi-lab/sip';
import { leaseLoopbackAddress, waitFor } from '@psi-lab/testkit';
import { COMPLETED_ELSEWHERE, SqliteStore, startPbx, type RunningPbx } from '../src/index.js';

const REALM = 'psi-lab';
/** Generous: every wait here is for an event that comes in milliseconds on an idle machine. */
const BOUND_MS = 10_000;
/** A source address of this file's own, on no site network: the pbx must not hear it. */
const STRANGER = await leaseLoopbackAddress();
/** Another phone of the site: heard by the pbx, but party to nobody's dialog. */
const NEIGHBOUR = await leaseLoopbackAddress();
type Behaviour = (req: IncomingRequest, res: OutgoingResponse) => void;

interface Phone {
  app: SipApp;
  contact: string;
  invites: IncomingRequest[];
  cancels: SipRequest[];
  acks: IncomingRequest[];
  byes: IncomingRequest[];
  behaviour: Behaviour;
}

const SDP = { body: 'v=0\r\n', headers: { 'Content-Type': 'application/sdp' } };
const ring: Behaviour = (_req, res) => void res.send(180);
const answer: Behaviour = (_req, res) => void res.send(200, SDP);
const busy: Behaviour = (_req, res) => void res.send(486);
/** Rings, then answers once `when` resolves (an event of the test's, not a timer) unless the call was cancelled meanwhile. */
const answerWhen = (when: Promise<unknown>): Behaviour => (_req, res) => {
  void res.send(180);
  void when.then(() => {
    if (!res.finalResponseSent) void res.send(200, SDP);
  });
};
const answerAfter = (ms: number): Behaviour => (_req, res) => {
  void res.send(180);
  setTimeout(() => {
    if (!res.finalResponseSent) void res.send(200, SDP);
  }, ms);
};
const SUBSCRIBERS: Array<[string, string, string]> = [['1001', 'Alice', 'alice-secret-1'], ['1002', 'Bob', 'bob-secret-22'], ['1003', 'Carol', 'carol-secret-3'], ['1004', 'Dan', 'dan-secret-44']];

describe('pbx call routing over real sockets', () => {
  let store: SqliteStore;
  let pbx: RunningPbx;
  /** The phones of the running test, closed after it. */
  const phones: Phone[] = [];
  let pstn: Phone;
  // Default timers (T1 500 ms): an answer may take the full 32 s of Timer B/F on a busy machine.
  const caller = new SipApp();

  async function phone(ext: string, password: string, behaviour: Behaviour, supported?: string[]): Promise<Phone> {
    const app = new SipApp({ supported });
    const { local } = await app.listen({ protocol: 'udp', port: 0 });
    const p: Phone = { app, contact: `sip:${ext}@127.0.0.1:${local.port}`, invites: [], cancels: [], acks: [], byes: [], behaviour };
    phones.push(p);
    app.invite((req, res) => {
      p.invites.push(req);
      req.on('cancel', (c) => p.cancels.push(c));
      p.behaviour(req, res);
    });
    app.bye((req, res) => {
      p.byes.push(req);
      void res.send(200);
    });
    app.on('ack', (a) => p.acks.push(a));
    const { response } = await app.request({
      method: 'REGISTER', uri: `sip:${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      to: `<sip:${ext}@${REALM}>`, from: `<sip:${ext}@${REALM}>`, headers: { Contact: `<${p.contact}>` }, auth: { username: ext, password },
    });
    expect(response.status).toBe(200);
    return p;
  }

  const call = (to: string, from = '1002', password = 'bob-secret-22') => caller.request({
    method: 'INVITE', uri: `sip:${to}@${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
    to: `<sip:${to}@${REALM}>`, from: `<sip:${from}@${REALM}>`, body: 'v=0\r\n', auth: { username: from, password },
  });

  beforeAll(async () => {
    store = SqliteStore.open(':memory:', { realm: REALM });
    // The test's phones are desk phones of the site; so is the neighbour.
    store.addSiteNetwork('127.0.0.1/32', 'the test phones');
    store.addSiteNetwork(`${NEIGHBOUR}/32`, 'another desk phone');
    for (const [extension, name, password] of SUBSCRIBERS) store.addSubscriber({ extension, name, email: `${name.toLowerCase()}@psi-lab.test`, password });
    // The PSTN first, on a port of its own: the pbx is then pointed at a port that is really held.
    const app = new SipApp();
    const { local } = await app.listen({ protocol: 'udp', port: 0 });
    pstn = { app, contact: '', invites: [], cancels: [], acks: [], byes: [], behaviour: answerAfter(20) };
    app.invite((req, res) => {
      pstn.invites.push(req);
      pstn.behaviour(req, res);
    });
    pbx = await startPbx({ store, port: 0, trunk: { address: '127.0.0.1', port: local.port } });
    await caller.listen({ protocol: 'udp', port: 0 });
  });
  // Each test starts from nobody registered, no DND, no forwarding: it sets up what it asserts on.
  beforeEach(() => {
    for (const [extension] of SUBSCRIBERS) {
      store.replaceBindings(extension, []);
      store.updateSubscriber(extension, { dndActive: false, forwardings: [] });
    }
  });
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.app.close();
  });
  afterAll(async () => {
    await pstn.app.close();
    await caller.close();
    await pbx.close();
    store.close();
  });

  it('rings every contact; the first 2xx wins, the others are cancelled "completed elsewhere"; BYE follows the Record-Route', async () => {
    let mobileRang!: () => void;
    const mobileRinging = new Promise<void>((r) => (mobileRang = r));
    // The desk answers once the mobile rings: both legs are up before one wins.
    const desk = await phone('1001', 'alice-secret-1', answerWhen(mobileRinging));
    const mobile = await phone('1001', 'alice-secret-1', (req, res) => {
      ring(req, res);
      mobileRang();
    });
    const ringing: number[] = [];
    const { request, response } = await caller.request({
      method: 'INVITE', uri: `sip:1001@${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      to: `<sip:1001@${REALM}>`, from: `<sip:1002@${REALM}>`, body: 'v=0\r\n', auth: { username: '1002', password: 'bob-secret-22' },
      onProvisional: (r) => ringing.push(r.status),
    });
    expect(response.status).toBe(200);
    expect(ringing).toContain(180);
    expect(desk.invites).toHaveLength(1);
    expect(mobile.invites).toHaveLength(1);
    await waitFor(() => mobile.cancels.length > 0, BOUND_MS, 'the CANCEL of the mobile\'s leg');
    expect(mobile.cancels).toHaveLength(1);
    expect(mobile.cancels[0].get('reason')).toBe(COMPLETED_ELSEWHERE);
    await waitFor(() => desk.acks.length > 0, BOUND_MS, 'the ACK of the desk\'s 200');
    expect(desk.acks).toHaveLength(1);
    expect(response.get('record-route')).toBe(`<sip:127.0.0.1:${pbx.port};lr>`);

    const bye = await caller.request({
      method: 'BYE', uri: response.contact!.uri.toString(), destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      callId: request.callId, cseq: request.cseq.seq + 1, from: request.get('from'), to: response.get('to'),
      headers: { Route: response.get('record-route')! },
    });
    expect(bye.response.status).toBe(200);
    expect(desk.byes).toHaveLength(1);
  });

  it('asserts the caller from its subscriber record: the display name a caller writes is never passed on', async () => {
    const carol = await phone('1003', 'carol-secret-3', answer);
    const { response } = await caller.request({
      method: 'INVITE', uri: `sip:1003@${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      // Authenticated as 1002, written as Alice (1001), name and number.
      to: `<sip:1003@${REALM}>`, from: `"Alice (Finance) 1001" <sip:1001@${REALM}>`, body: 'v=0\r\n', auth: { username: '1002', password: 'bob-secret-22' },
      headers: { 'P-Asserted-Identity': `"Alice" <sip:1001@${REALM}>`, 'P-Preferred-Identity': `<sip:1001@${REALM}>` },
    });
    expect(response.status).toBe(200);
    const invite = carol.invites[0];
    expect(invite.msg.from.name).toBe('Bob');
    expect(invite.msg.from.uri.toString()).toBe(`sip:1002@${REALM}`);
    expect(invite.getAll('p-asserted-identity')).toEqual([`"Bob" <sip:1002@${REALM}>`]);
    expect(invite.get('p-preferred-identity')).toBeUndefined();
    // The caller gets its own From back, display name and tag as it wrote them.
    expect(response.from.name).toBe('Alice (Finance) 1001');
  });

  it('as a proxy, passes Require on to the callee (reliable provisionals, or tags it has never heard of); only Proxy-Require is its own to refuse', async () => {
    const carol = await phone('1003', 'carol-secret-3', answer, ['100rel', 'x-psi-test']);
    const invite = (headers: Record<string, string>) => caller.request({
      method: 'INVITE', uri: `sip:1003@${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      to: `<sip:1003@${REALM}>`, from: `<sip:1002@${REALM}>`, body: 'v=0\r\n', auth: { username: '1002', password: 'bob-secret-22' }, headers,
    });
    expect((await invite({ Require: '100rel, x-psi-test' })).response.status).toBe(200);
    expect(carol.invites[0].getAll('require')).toEqual(['100rel', 'x-psi-test']);
    const refused = await invite({ 'Proxy-Require': 'x-psi-test' });
    expect(refused.response.status).toBe(420);
    expect(refused.response.get('unsupported')).toBe('x-psi-test');
    expect(carol.invites).toHaveLength(1);
  });

  it('answers 404 for an unknown extension and 480 when nothing is registered', async () => {
    expect((await call('1999')).response.status).toBe(404);
    expect((await call('1004')).response.status).toBe(480);
  });

  it('passes a busy set\'s 486 back', async () => {
    await phone('1003', 'carol-secret-3', busy);
    expect((await call('1003')).response.status).toBe(486);
  });

  it('Do not disturb answers busy without ringing, or follows forward-on-busy', async () => {
    // Carol would answer: a 486 can only come from DND.
    const carol = await phone('1003', 'carol-secret-3', answer);
    const dan = await phone('1004', 'dan-secret-44', answerAfter(10));
    store.updateSubscriber('1003', { dndActive: true });
    expect((await call('1003')).response.status).toBe(486);
    store.updateSubscriber('1003', { forwardings: [{ kind: 'busy', target: '1004' }] });
    expect((await call('1003')).response.status).toBe(200);
    expect(dan.invites).toHaveLength(1);
    // Checked after the second call completed (a fence): an INVITE to carol from the first would have come by now.
    expect(carol.invites).toHaveLength(0);
  });

  it('forwards all calls, on busy, and on no answer after the delay', async () => {
    const carol = await phone('1003', 'carol-secret-3', busy);
    const dan = await phone('1004', 'dan-secret-44', answerAfter(10));
    store.updateSubscriber('1003', { forwardings: [{ kind: 'all', target: '1004' }] });
    expect((await call('1003')).response.status).toBe(200);
    expect(dan.invites).toHaveLength(1);
    expect(carol.invites).toHaveLength(0);
    store.updateSubscriber('1003', { forwardings: [{ kind: 'busy', target: '1004' }] });
    expect((await call('1003')).response.status).toBe(200);
    expect(carol.invites).toHaveLength(1);
    expect(dan.invites).toHaveLength(2);

    carol.behaviour = ring;
    const cancelsBefore = carol.cancels.length;
    store.updateSubscriber('1003', { forwardings: [{ kind: 'noAnswer', target: '1004', delaySeconds: 1 }] });
    const t0 = Date.now();
    const { response } = await call('1003');
    expect(response.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(carol.invites).toHaveLength(2);
    expect(dan.invites).toHaveLength(3);
    await waitFor(() => carol.cancels.length > cancelsBefore, BOUND_MS, 'the CANCEL of carol\'s unanswered leg');
    expect(carol.cancels.length).toBe(cancelsBefore + 1);
  });

  it('routes numbers starting with 0 to the trunk', async () => {
    const { response } = await call('0612345678');
    expect(response.status).toBe(200);
    expect(pstn.invites.at(-1)?.uri).toMatch(/^sip:0612345678@127\.0\.0\.1:\d+$/);
  });

  it('carries a re-INVITE (hold) inside the dialog, and takes several calls to one subscriber at once', async () => {
    await phone('1004', 'dan-secret-44', answerAfter(30));
    await phone('1004', 'dan-secret-44', answerAfter(30));
    const [first, second] = await Promise.all([call('1004'), call('1004')]);
    expect(first.response.status).toBe(200);
    expect(second.response.status).toBe(200);
    expect(first.request.callId).not.toBe(second.request.callId);
    const { request, response } = first;
    // The dialog is with whichever 1004 set answered first (dan's or erin's): both take the re-INVITE.
    const reinvites: string[] = [];
    for (const p of phones.filter((x) => x.contact.startsWith('sip:1004'))) {
      p.behaviour = (req, res) => {
        reinvites.push(req.body.toString());
        void res.send(200, { body: 'v=0\r\na=sendonly\r\n', headers: { 'Content-Type': 'application/sdp' } });
      };
    }
    const hold = await caller.request({
      method: 'INVITE', uri: response.contact!.uri.toString(), destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      callId: request.callId, cseq: request.cseq.seq + 1, from: request.get('from'), to: response.get('to'),
      headers: { Route: response.get('record-route')! }, body: 'v=0\r\na=sendonly\r\n',
    });
    expect(hold.response.status).toBe(200);
    expect(reinvites).toEqual(['v=0\r\na=sendonly\r\n']);
  });

  it('routes in-dialog requests only along dialogs it knows: made-up ids get 481, never a relay to the host they name', async () => {
    // A listener where the forged Request-URI and Route point: nothing may reach it.
    const bait = new SipApp();
    const baited: string[] = [];
    bait.transport.on('request', (r) => baited.push(r.method));
    const { local } = await bait.listen({ protocol: 'udp', port: 0 });
    try {
      for (const method of ['BYE', 'MESSAGE', 'INVITE']) {
        const { response } = await caller.request({
          method, uri: `sip:1004@127.0.0.1:${local.port}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
          from: '<sip:1002@psi-lab>;tag=forged', to: '<sip:1004@psi-lab>;tag=guessed',
          headers: { Route: `<sip:127.0.0.1:${pbx.port};lr>, <sip:127.0.0.1:${local.port};lr>` },
        });
        expect(response.status, method).toBe(481);
      }
      // The 481s came after the pbx decided: anything relayed would have been sent before them.
      expect(baited).toEqual([]);
    } finally {
      await bait.close();
    }
  });

  it('takes a request inside a real dialog only from that dialog\'s parties', async () => {
    await phone('1004', 'dan-secret-44', answer);
    const { request, response } = await call('1004');
    expect(response.status).toBe(200);
    // Another on-site phone (allowed to talk to the pbx at all) tries to hang the call up.
    const intruder = new SipApp();
    await intruder.listen({ protocol: 'udp', host: NEIGHBOUR, port: 0 });
    try {
      const bye = await intruder.request({
        method: 'BYE', uri: response.contact!.uri.toString(), destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
        callId: request.callId, cseq: request.cseq.seq + 1, from: request.get('from'), to: response.get('to'),
        headers: { Route: response.get('record-route')! },
      });
      expect(bye.response.status).toBe(403);
    } finally {
      await intruder.close();
    }
  });

  it('does not hear a source outside its MBG, its site networks and its trunk', async () => {
    const sock = dgram.createSocket('udp4');
    const answers: Buffer[] = [];
    sock.on('message', (m) => answers.push(m));
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(0, STRANGER, () => resolve());
      });
      const dropped = pbx.app.transport.stats.dropped;
      const invite = [
        `INVITE sip:1004@${REALM} SIP/2.0`, `Via: SIP/2.0/UDP ${STRANGER}:${sock.address().port};branch=z9hG4bK-stranger;rport`, 'Max-Forwards: 70',
        `From: <sip:1002@${REALM}>;tag=s`, `To: <sip:1004@${REALM}>`, 'Call-ID: stranger@test', 'CSeq: 1 INVITE', 'Content-Length: 0', '', '',
      ].join('\r\n');
      sock.send(invite, pbx.port, '127.0.0.1');
      await waitFor(() => pbx.app.transport.stats.dropped > dropped, BOUND_MS, 'the pbx to drop the stranger\'s INVITE');
      // Dropped by the pbx's own decision before parsing: no answer is on its way.
      expect(answers).toEqual([]);
    } finally {
      sock.close();
    }
  });

  it('cancels every branch when the caller cancels: the caller gets 487', async () => {
    const { ClientInviteTransaction } = await import('@psi-lab/sip');
    const carol = await phone('1003', 'carol-secret-3', ring);
    let invite: InstanceType<typeof ClientInviteTransaction> | undefined;
    const { response } = await caller.request({
      method: 'INVITE', uri: `sip:1003@${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      to: `<sip:1003@${REALM}>`, from: `<sip:1002@${REALM}>`, body: 'v=0\r\n', auth: { username: '1002', password: 'bob-secret-22' },
      onTransaction: (tx) => {
        if (tx instanceof ClientInviteTransaction) invite = tx;
      },
      onProvisional: (r) => {
        if (r.status === 180) void invite?.cancel();
      },
    });
    expect(response.status).toBe(487);
    await waitFor(() => carol.cancels.length > 0, BOUND_MS, 'the CANCEL of carol\'s leg');
    expect(carol.cancels).toHaveLength(1);
    expect(carol.cancels[0].get('reason')).toBeUndefined();
  });
});
