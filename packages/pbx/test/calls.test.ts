import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipApp, type IncomingRequest, type OutgoingResponse, type SipRequest } from '@psi-lab/sip';
import { COMPLETED_ELSEWHERE, SqliteStore, startPbx, type RunningPbx } from '../src/index.js';

const REALM = 'psi-lab';
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

const ring: Behaviour = (_req, res) => void res.send(180);
const answerAfter = (ms: number): Behaviour => (_req, res) => {
  void res.send(180);
  setTimeout(() => {
    if (!res.finalResponseSent) void res.send(200, { body: 'v=0\r\n', headers: { 'Content-Type': 'application/sdp' } });
  }, ms);
};

describe('pbx call routing over real sockets', () => {
  let store: SqliteStore;
  let pbx: RunningPbx;
  const phones: Phone[] = [];
  let pstn: Phone;
  const caller = new SipApp({ timers: { T1: 50 } });

  async function phone(ext: string, password: string, behaviour: Behaviour): Promise<Phone> {
    const app = new SipApp({ timers: { T1: 50 } });
    const { local } = await app.listen({ protocol: 'udp', port: 0 });
    const p: Phone = { app, contact: `sip:${ext}@127.0.0.1:${local.port}`, invites: [], cancels: [], acks: [], byes: [], behaviour };
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
    if (ext !== 'pstn') {
      const { response } = await app.request({
        method: 'REGISTER', uri: `sip:${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
        to: `<sip:${ext}@${REALM}>`, from: `<sip:${ext}@${REALM}>`, headers: { Contact: `<${p.contact}>` }, auth: { username: ext, password },
      });
      expect(response.status).toBe(200);
    }
    phones.push(p);
    return p;
  }

  const call = (to: string, from = '1002', password = 'bob-secret-22') => caller.request({
    method: 'INVITE', uri: `sip:${to}@${REALM}`, destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
    to: `<sip:${to}@${REALM}>`, from: `<sip:${from}@${REALM}>`, body: 'v=0\r\n', auth: { username: from, password },
  });

  beforeAll(async () => {
    store = SqliteStore.open(':memory:', { realm: REALM });
    store.addSubscriber({ extension: '1001', name: 'Alice', email: 'alice@psi-lab.test', password: 'alice-secret-1' });
    store.addSubscriber({ extension: '1002', name: 'Bob', email: 'bob@psi-lab.test', password: 'bob-secret-22' });
    store.addSubscriber({ extension: '1003', name: 'Carol', email: 'carol@psi-lab.test', password: 'carol-secret-3' });
    store.addSubscriber({ extension: '1004', name: 'Dan', email: 'dan@psi-lab.test', password: 'dan-secret-44' });
    const pstnApp = new SipApp();
    const { local } = await pstnApp.listen({ protocol: 'udp', port: 0 });
    await pstnApp.close();
    pbx = await startPbx({ store, port: 0, trunk: { address: '127.0.0.1', port: local.port } });
    pstn = await (async () => {
      const app = new SipApp({ timers: { T1: 50 } });
      await app.listen({ protocol: 'udp', port: local.port });
      const p: Phone = { app, contact: '', invites: [], cancels: [], acks: [], byes: [], behaviour: answerAfter(20) };
      app.invite((req, res) => {
        p.invites.push(req);
        p.behaviour(req, res);
      });
      return p;
    })();
    await caller.listen({ protocol: 'udp', port: 0 });
  });
  afterAll(async () => {
    for (const p of [...phones, pstn]) await p.app.close();
    await caller.close();
    await pbx.close();
    store.close();
  });

  it('rings every contact; the first 2xx wins, the others are cancelled "completed elsewhere"; BYE follows the Record-Route', async () => {
    const desk = await phone('1001', 'alice-secret-1', answerAfter(150));
    const mobile = await phone('1001', 'alice-secret-1', ring);
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
    await new Promise((r) => setTimeout(r, 150));
    expect(mobile.cancels).toHaveLength(1);
    expect(mobile.cancels[0].get('reason')).toBe(COMPLETED_ELSEWHERE);
    expect(desk.acks).toHaveLength(1);
    expect(response.get('record-route')).toBe(`<sip:127.0.0.1:${pbx.port};lr>`);

    const bye = await caller.request({
      method: 'BYE', uri: response.contact!.uri.toString(), destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
      callId: request.callId, cseq: request.cseq.seq + 1, from: request.get('from'), to: response.get('to'),
      headers: { Route: response.get('record-route')! },
    });
    expect(bye.response.status).toBe(200);
    expect(desk.byes).toHaveLength(1);
    desk.behaviour = ring;
    mobile.behaviour = ring;
    for (const p of [desk, mobile]) await p.app.close();
    store.replaceBindings('1001', []);
  });

  it('answers 404 for an unknown extension and 480 when nothing is registered', async () => {
    expect((await call('1999')).response.status).toBe(404);
    expect((await call('1004')).response.status).toBe(480);
  });

  it('passes a busy set\'s 486 back', async () => {
    await phone('1003', 'carol-secret-3', (_req, res) => void res.send(486));
    expect((await call('1003')).response.status).toBe(486);
  });

  it('Do not disturb answers busy without ringing, or follows forward-on-busy', async () => {
    const carol = phones.find((p) => p.contact.startsWith('sip:1003'))!;
    const before = carol.invites.length;
    store.updateSubscriber('1003', { dndActive: true });
    expect((await call('1003')).response.status).toBe(486);
    expect(carol.invites.length).toBe(before);
    const dan = await phone('1004', 'dan-secret-44', answerAfter(10));
    store.updateSubscriber('1003', { forwardings: [{ kind: 'busy', target: '1004' }] });
    expect((await call('1003')).response.status).toBe(200);
    expect(dan.invites).toHaveLength(1);
    store.updateSubscriber('1003', { dndActive: false, forwardings: [] });
  });

  it('forwards all calls, on busy, and on no answer after the delay', async () => {
    const dan = phones.find((p) => p.contact.startsWith('sip:1004'))!;
    store.updateSubscriber('1003', { forwardings: [{ kind: 'all', target: '1004' }] });
    expect((await call('1003')).response.status).toBe(200);
    store.updateSubscriber('1003', { forwardings: [{ kind: 'busy', target: '1004' }] });
    const viaBusy = dan.invites.length;
    expect((await call('1003')).response.status).toBe(200);
    expect(dan.invites.length).toBe(viaBusy + 1);

    const carol = phones.find((p) => p.contact.startsWith('sip:1003'))!;
    carol.behaviour = ring;
    store.updateSubscriber('1003', { forwardings: [{ kind: 'noAnswer', target: '1004', delaySeconds: 1 }] });
    const t0 = Date.now();
    const { response } = await call('1003');
    expect(response.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    await new Promise((r) => setTimeout(r, 100));
    expect(carol.cancels.length).toBeGreaterThan(0);
    store.updateSubscriber('1003', { forwardings: [] });
  });

  it('routes numbers starting with 0 to the trunk', async () => {
    const { response } = await call('0612345678');
    expect(response.status).toBe(200);
    expect(pstn.invites.at(-1)?.uri).toMatch(/^sip:0612345678@127\.0\.0\.1:\d+$/);
  });

  it('carries a re-INVITE (hold) inside the dialog, and takes several calls to one subscriber at once', async () => {
    const erin = await phone('1004', 'dan-secret-44', answerAfter(30));
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
    await erin.app.close();
  });

  it('challenges an in-dialog request from a source that never authenticated', async () => {
    const stranger = new SipApp({ timers: { T1: 50 } });
    await stranger.listen({ protocol: 'udp', host: '127.0.0.11', port: 0 });
    try {
      const { response } = await stranger.request({
        method: 'BYE', uri: 'sip:1004@127.0.0.1:9', destination: { protocol: 'udp', address: '127.0.0.1', port: pbx.port },
        from: '<sip:1002@psi-lab>;tag=forged', to: '<sip:1004@psi-lab>;tag=guessed', headers: { Route: `<sip:127.0.0.1:${pbx.port};lr>` },
      });
      expect(response.status).toBe(407);
    } finally {
      await stranger.close();
    }
  });

  it('cancels every branch when the caller cancels: the caller gets 487', async () => {
    const { ClientInviteTransaction } = await import('@psi-lab/sip');
    const carol = phones.find((p) => p.contact.startsWith('sip:1003'))!;
    carol.behaviour = ring;
    const before = carol.cancels.length;
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
    await new Promise((r) => setTimeout(r, 100));
    expect(carol.cancels.length).toBe(before + 1);
    expect(carol.cancels.at(-1)?.get('reason')).toBeUndefined();
  });
});
