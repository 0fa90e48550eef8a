/**
 * Attacks 6 and 7 of SECURITY.md, on a call between two sets through the lab:
 *   - Alice calls Bob writing "Bob (Finance) 1002" as her display name: who does Bob see?
 *   - someone on Alice's address, on another port, hangs the call up and re-INVITEs it with the
 *     dialog's Call-ID and tags (seen on the wire).
 */
import { SipApp, type IncomingRequest } from '@psi-lab/sip';
import { ALICE, BOB, CAROL, leaseLoopbackAddress, startLabUnderTest, waitFor, type LabUnderTest } from '@psi-lab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SipSocket } from './helpers/sip-socket.js';

const SDP = (address: string, port: number): string => `v=0\r\no=- 1 1 IN IP4 ${address}\r\ns=-\r\nc=IN IP4 ${address}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

let lab: LabUnderTest;
let alice: SipApp;
let bob: SipApp;
let aliceAddress: string;
const invites: IncomingRequest[] = [];
const byes: IncomingRequest[] = [];

/** A set on an address of its own, registered through the gateway over UDP (or TCP). */
async function set(user: { user: string; password: string }, address: string, protocol: 'udp' | 'tcp' = 'udp'): Promise<SipApp> {
  const app = new SipApp();
  const { local } = await app.listen({ protocol, host: address, port: 0 });
  const { response } = await app.request({
    method: 'REGISTER', uri: `sip:${lab.host}:5060`, destination: { protocol, address: lab.host, port: 5060 },
    to: `<sip:${user.user}@${lab.host}>`, from: `<sip:${user.user}@${lab.host}>`,
    headers: { Contact: `<sip:${user.user}@${address}:${local.port}${protocol === 'tcp' ? ';transport=tcp' : ''}>` },
    auth: { username: user.user, password: user.password },
  });
  expect(response.status).toBe(200);
  return app;
}

beforeAll(async () => {
  lab = await startLabUnderTest();
  aliceAddress = await leaseLoopbackAddress();
  alice = await set(ALICE, aliceAddress);
  bob = await set(BOB, await leaseLoopbackAddress());
  bob.invite((req, res) => {
    invites.push(req);
    void res.send(200, { body: SDP('127.0.0.1', 40000), headers: { 'Content-Type': 'application/sdp' } });
  });
  bob.bye((req, res) => {
    byes.push(req);
    void res.send(200);
  });
}, 60_000);
afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await lab?.close();
});

describe('attacks 6 and 7 on a call through the lab', () => {
  it('Bob sees who calls from the pbx\'s subscriber record, never the display name Alice wrote; a second flow on Alice\'s address cannot end or change the call', async () => {
    const call = await alice.request({
      method: 'INVITE', uri: `sip:${BOB.user}@${lab.host}:5060`, destination: { protocol: 'udp', address: lab.host, port: 5060 },
      from: `"Bob (Finance) 1002" <sip:${ALICE.user}@${lab.host}>`, to: `<sip:${BOB.user}@${lab.host}>`,
      body: SDP(aliceAddress, 41000), headers: { 'Content-Type': 'application/sdp', 'P-Asserted-Identity': `"Bob (Finance)" <sip:${BOB.user}@psi-lab>` },
      auth: { username: ALICE.user, password: ALICE.password },
    });
    expect(call.response.status).toBe(200);
    // Attack 7: the callee's view of the caller.
    const seen = invites[0].msg.from;
    expect(seen.name).toBe(ALICE.name);
    expect('user' in seen.uri && seen.uri.user).toBe(ALICE.user);
    expect(invites[0].get('p-asserted-identity')).toBeUndefined();

    // Attack 6: Alice's address, another port, the dialog's ids.
    const hijacker = await SipSocket.open({ host: lab.host, port: 5060 }, aliceAddress);
    try {
      const dialog = { callId: call.request.callId, fromTag: call.request.from.tag!, toTag: call.response.to.tag! };
      for (const [method, seq] of [['BYE', 2], ['INVITE', 3]] as const) {
        const forged = hijacker.build({ method, user: ALICE.user, to: BOB.user, ...dialog, cseq: seq, body: method === 'INVITE' ? SDP(aliceAddress, 42000) : undefined });
        expect((await hijacker.ask(forged)).status, method).toBe(403);
      }
    } finally {
      hijacker.close();
    }
    expect(invites).toHaveLength(1);
    expect(byes).toHaveLength(0);

    // The real caller, over its own flow, ends the call: Bob hears the BYE.
    const bye = await alice.request({
      method: 'BYE', uri: call.response.contact!.uri.toString(), destination: { protocol: 'udp', address: lab.host, port: 5060 },
      callId: call.request.callId, cseq: call.request.cseq.seq + 1, from: call.request.get('from'), to: call.response.get('to'),
    });
    expect(bye.response.status).toBe(200);
    await waitFor(() => byes.length === 1, 10_000, 'the BYE to reach Bob');
  });

  it('a stranger cannot end a call ringing at a set, and the called set (over TCP) hangs up over its own connection', async () => {
    const carol = await set(CAROL, await leaseLoopbackAddress(), 'tcp');
    const aliceByes: IncomingRequest[] = [];
    alice.bye((req, res) => {
      aliceByes.push(req);
      void res.send(200);
    });
    let ringing: { req: IncomingRequest; tag: string; answer(): void } | undefined;
    carol.invite((req, res) => {
      void res.send(180);
      ringing = { req, tag: res.toTag, answer: () => void res.send(200, { body: SDP('127.0.0.1', 43000), headers: { 'Content-Type': 'application/sdp' } }) };
    });
    try {
      const calling = alice.request({
        method: 'INVITE', uri: `sip:${CAROL.user}@${lab.host}:5060`, destination: { protocol: 'udp', address: lab.host, port: 5060 },
        from: `<sip:${ALICE.user}@${lab.host}>`, to: `<sip:${CAROL.user}@${lab.host}>`, body: SDP(aliceAddress, 44000),
        headers: { 'Content-Type': 'application/sdp' }, auth: { username: ALICE.user, password: ALICE.password },
      });
      await waitFor(() => ringing !== undefined, 10_000, 'Carol to ring');
      const invite = ringing!.req;
      // The stranger saw the INVITE to Carol and her 180 (her tag): it ends "her" early dialog.
      const stranger = await SipSocket.open({ host: lab.host, port: 5060 }, await leaseLoopbackAddress());
      try {
        const bye = stranger.build({ method: 'BYE', user: CAROL.user, to: ALICE.user, callId: invite.callId, fromTag: ringing!.tag, toTag: invite.msg.from.tag!, cseq: 1 });
        expect((await stranger.ask(bye)).status).toBe(403);
      } finally {
        stranger.close();
      }
      ringing!.answer();
      const call = await calling;
      expect(call.response.status).toBe(200);
      // Carol hangs up over the connection she registered on (the gateway reached her at her Contact).
      const hangUp = await carol.request({
        method: 'BYE', uri: invite.msg.contact!.uri.toString(), destination: { protocol: 'tcp', address: lab.host, port: 5060 },
        callId: invite.callId, cseq: 1, from: `<sip:${CAROL.user}@${lab.host}>;tag=${ringing!.tag}`, to: invite.get('from'),
      });
      expect(hangUp.response.status).toBe(200);
      await waitFor(() => aliceByes.length === 1, 10_000, 'the BYE to reach Alice');
    } finally {
      await carol.close();
    }
  });
});
