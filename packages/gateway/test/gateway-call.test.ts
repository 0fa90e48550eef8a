import { Dialog, type RequestResult, type SipRequest } from '@psi-lab/sip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayLab, type GatewayLab } from './helpers/gateway-lab.js';
import { TestSet, waitFor } from './helpers/test-set.js';
import { CALL_IDLE_LIMIT_MS, DialogReaper } from '../src/relay/dialog-reaper.js';

const HOST = '127.0.0.22';

describe('calls through gateway → pbx → gateway', () => {
  let lab: GatewayLab;
  let alice: TestSet;
  let bob: TestSet;

  beforeAll(async () => {
    lab = await startGatewayLab(HOST, { media: { portMin: 42000, portMax: 42399 } });
    alice = await new TestSet({ user: '1001', password: 'alice-secret-1', protocol: 'tls', host: HOST, port: 5061, ca: lab.ca }).start();
    bob = await new TestSet({ user: '1002', password: 'bob-secret-22', protocol: 'wss', host: HOST, port: 8443, path: '/sip', ca: lab.ca }).start();
    expect((await alice.register()).response.status).toBe(200);
    expect((await bob.register()).response.status).toBe(200);
  });
  afterAll(async () => {
    await alice.close();
    await bob.close();
    await lab.close();
  });

  /** Bob answers: 180, then 200 with his SDP. */
  const bobAnswers = (): void => {
    bob.onInvite = (_req, res) => {
      void res.send(180);
      setTimeout(() => void res.send(200, { body: bob.sdp(), headers: { 'Content-Type': 'application/sdp' } }), 50);
    };
  };

  async function establish(): Promise<{ result: RequestResult; aliceLeg: Dialog; bobLeg: Dialog }> {
    bobAnswers();
    const invitesBefore = bob.invites.length;
    const result = await alice.call('1002');
    expect(result.response.status).toBe(200);
    await waitFor(() => bob.invites.length > invitesBefore);
    const bobInvite = bob.invites[bob.invites.length - 1];
    const aliceLeg = Dialog.fromResponse(alice.app, result.request, result.response, { flow: result.flow });
    // Bob's end of his dialog: the To tag he answered with is in the ACK the gateway sent.
    await waitFor(() => lab.gateway.context.dialogs.set.size >= 2);
    const bobTag = [...lab.gateway.context.dialogs.set.values()].map((d) => d.state).find((s) => s.callId === bobInvite.callId)!.remoteTag;
    const bobLeg = Dialog.fromIncoming(bob.app, bobInvite, bobTag, { keepFlow: true });
    return { result, aliceLeg, bobLeg };
  }

  it('a call connects with RTP relayed both ways, and neither side sees the other\'s addresses', async () => {
    const { result, aliceLeg } = await establish();
    const invite = bob.invites[bob.invites.length - 1];
    // Topology hiding: Bob sees only the gateway; Alice too.
    const bobView = invite.toString();
    expect(bobView).not.toMatch(/:5070\b/);
    expect(bobView).not.toMatch(/:5062\b/);
    expect(invite.get('from')).toContain('1001');
    const answer = result.response.body.toString();
    expect(answer).toContain(`c=IN IP4 ${HOST}`);
    expect(answer).not.toContain(String(bob.rtp.address().port));
    const offer = invite.body.toString();
    expect(offer).toContain(`c=IN IP4 ${HOST}`);
    expect(offer).not.toContain(`m=audio ${alice.rtp.address().port} `);
    expect(result.response.toString()).not.toMatch(/:5070\b|:5062\b/);

    alice.sendRtp(answer, 'hello-from-alice');
    await waitFor(() => bob.heard('hello-from-alice'), 3000, 'Alice\'s RTP at Bob');
    bob.sendRtp(offer, 'hello-from-bob');
    await waitFor(() => alice.heard('hello-from-bob'), 3000, 'Bob\'s RTP at Alice');
    expect(lab.gateway.status().counters.rtpPackets).toBeGreaterThan(0);
    expect(lab.gateway.status().counters.callsActive).toBeGreaterThan(0);

    const bye = await aliceLeg.request('BYE');
    expect(bye.response.status).toBe(200);
    await waitFor(() => bob.requests.some((r) => r.method === 'BYE' && r.callId === invite.callId));
    await waitFor(() => lab.gateway.status().counters.callsActive === 0, 3000, 'calls to end');
  });

  it('re-INVITE (hold), INFO, MESSAGE and UPDATE cross in both directions; Bob hangs up', async () => {
    const { aliceLeg, bobLeg } = await establish();
    const hold = alice.sdp().replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\r\na=sendonly');
    const reinvite = await aliceLeg.request('INVITE', { body: hold, headers: { 'Content-Type': 'application/sdp' } });
    expect(reinvite.response.status).toBe(200);
    const info = await aliceLeg.request('INFO', { body: 'Signal=5\r\nDuration=160\r\n', headers: { 'Content-Type': 'application/dtmf-relay' } });
    expect(info.response.status).toBe(200);
    const relayedInfo = bob.requests.find((r) => r.method === 'INFO');
    expect(relayedInfo?.body.toString()).toContain('Signal=5');
    expect(relayedInfo?.get('content-type')).toBe('application/dtmf-relay');
    const message = await bobLeg.request('MESSAGE', { body: 'hi alice', headers: { 'Content-Type': 'text/plain' } });
    expect(message.response.status).toBe(200);
    await waitFor(() => alice.requests.some((r) => r.method === 'MESSAGE' && r.body.toString() === 'hi alice'));
    const update = await bobLeg.request('UPDATE', { body: bob.sdp(), headers: { 'Content-Type': 'application/sdp' } });
    expect(update.response.status).toBe(200);
    const bye = await bobLeg.request('BYE');
    expect(bye.response.status).toBe(200);
    await waitFor(() => alice.requests.some((r) => r.method === 'BYE'));
  });

  it('a re-INVITE answered with SDP that cannot be relayed: 500 to the sender, the call hung up, the gateway lives on', async () => {
    const { aliceLeg } = await establish();
    const invite = bob.invites[bob.invites.length - 1];
    bob.onInvite = (_req, res) => void res.send(200, { body: 'this is not sdp', headers: { 'Content-Type': 'application/sdp' } });
    const reinvite = await aliceLeg.request('INVITE', { body: alice.sdp(), headers: { 'Content-Type': 'application/sdp' } });
    expect(reinvite.response.status).toBe(500);
    await waitFor(() => bob.requests.some((r) => r.method === 'BYE' && r.callId === invite.callId), 3000, 'BYE at Bob');
    await waitFor(() => lab.gateway.status().counters.callsActive === 0, 3000, 'the call to end');
    // And a new call still works.
    const next = await establish();
    expect((await next.aliceLeg.request('BYE')).response.status).toBe(200);
  });

  it('REFER and its NOTIFY cross inside a call', async () => {
    const { aliceLeg, bobLeg } = await establish();
    const refer = await aliceLeg.request('REFER', { headers: { 'Refer-To': `<sip:1003@${HOST}>`, 'Referred-By': `<sip:1001@${HOST}>` } });
    expect(refer.response.status).toBe(200);
    const relayed = bob.requests.find((r) => r.method === 'REFER');
    expect(relayed?.get('refer-to')).toBe(`<sip:1003@${HOST}>`);
    // Referred-By crossed the pbx hop rewritten both ways: Bob sees the gateway's domain, not the pbx's.
    expect(relayed?.get('referred-by')).toBe(`<sip:1001@${HOST}>`);
    const notify = await bobLeg.request('NOTIFY', { body: 'SIP/2.0 200 OK\r\n', headers: { Event: 'refer', 'Subscription-State': 'terminated;reason=noresource', 'Content-Type': 'message/sipfrag' } });
    expect(notify.response.status).toBe(200);
    await waitFor(() => alice.requests.some((r) => r.method === 'NOTIFY' && r.get('event') === 'refer'));
    await aliceLeg.request('BYE');
  });

  it('a reliable 183 with early media is PRACKed end to end (RFC 3262), RAck translated on each leg', async () => {
    let bobRseq = 0;
    bob.onInvite = (req, res) => {
      bobRseq = 7;
      void res.send(183, { headers: { Require: '100rel', RSeq: bobRseq, 'Content-Type': 'application/sdp' }, body: bob.sdp() });
      // Bob answers once the PRACK came through.
      const waitPrack = setInterval(() => {
        if (bob.requests.some((r) => r.method === 'PRACK' && r.callId === req.callId)) {
          clearInterval(waitPrack);
          void res.send(200, { body: bob.sdp(), headers: { 'Content-Type': 'application/sdp' } });
        }
      }, 20);
    };
    let invite: SipRequest | undefined;
    let prackStatus = 0;
    const result = await alice.call('1002', {
      headers: [['Contact', alice.contact], ['Supported', '100rel']],
      onTransaction: (tx) => (invite = tx.request),
      onProvisional: (r) => {
        if (r.status !== 183 || !invite) return;
        expect(r.get('require')).toBe('100rel');
        // To the gateway's Contact over TLS: the connection the INVITE went out on is reused.
        const early = Dialog.fromResponse(alice.app, invite, r);
        void early.request('PRACK', { headers: { RAck: `${r.get('rseq')} ${invite.cseq.seq} INVITE` } }).then((p) => (prackStatus = p.response.status));
      },
    });
    expect(result.response.status).toBe(200);
    expect(prackStatus).toBe(200);
    const prack = bob.requests.find((r) => r.method === 'PRACK')!;
    const bobInvite = bob.invites[bob.invites.length - 1];
    // Bob sees his own RSeq and the CSeq of the INVITE on his leg, not Alice's.
    expect(prack.get('rack')).toBe(`${bobRseq} ${bobInvite.msg.cseq.seq} INVITE`);
    const aliceLeg = Dialog.fromResponse(alice.app, result.request, result.response, { flow: result.flow });
    await aliceLeg.request('BYE');
    // The confirmed dialog numbers past the early dialog's PRACK (RFC 3261 §12.2.1.1).
    await waitFor(() => bob.requests.some((r) => r.method === 'BYE' && r.callId === bobInvite.callId));
    const bye = bob.requests.find((r) => r.method === 'BYE' && r.callId === bobInvite.callId)!;
    expect(bye.msg.cseq.seq).toBeGreaterThan(prack.msg.cseq.seq);
  });

  it('the caller cancels a ringing call: the callee gets CANCEL, the caller 487', async () => {
    bob.onInvite = (_req, res) => void res.send(180);
    const before = bob.invites.length;
    let tx: { cancel(): Promise<unknown> } | undefined;
    const pending = alice.call('1002', {
      onTransaction: (t) => (tx = t as unknown as { cancel(): Promise<unknown> }),
      onProvisional: (r) => {
        if (r.status === 180) void tx?.cancel();
      },
    });
    const { response } = await pending;
    expect(response.status).toBe(487);
    await waitFor(() => bob.invites.length > before);
    const invite = bob.invites[bob.invites.length - 1];
    await waitFor(() => invite.canceled, 3000, 'CANCEL at Bob');
    await waitFor(() => lab.gateway.context.dialogs.set.size === 0 && lab.gateway.context.dialogs.pbx.size === 0, 3000, 'dialogs to be forgotten');
  });

  it('a busy callee: 486 reaches the caller and nothing stays behind', async () => {
    bob.onInvite = (_req, res) => void res.send(486);
    const { response } = await alice.call('1002');
    expect(response.status).toBe(486);
    await waitFor(() => lab.gateway.context.dialogs.set.size === 0 && lab.gateway.context.dialogs.pbx.size === 0, 3000, 'dialogs to be forgotten');
  });

  it('a call left with neither SIP nor RTP for an hour is hung up on both sides', async () => {
    await establish();
    const invite = bob.invites[bob.invites.length - 1];
    const ctx = lab.gateway.context;
    let skew = 0;
    const reaper = new DialogReaper({ ...ctx, now: () => Date.now() + skew });
    expect(reaper.sweep()).toBe(0); // the first look starts the RTP clock
    skew = CALL_IDLE_LIMIT_MS / 2;
    expect(reaper.sweep()).toBe(0); // half an hour of silence is not enough
    skew = CALL_IDLE_LIMIT_MS + 1000;
    expect(reaper.sweep()).toBe(2); // both passages through the gateway: Alice ↔ pbx and pbx ↔ Bob
    await waitFor(() => bob.requests.some((r) => r.method === 'BYE' && r.callId === invite.callId), 3000, 'BYE at Bob');
    await waitFor(() => alice.requests.some((r) => r.method === 'BYE'), 3000, 'BYE at Alice');
    await waitFor(() => ctx.dialogs.set.size === 0 && ctx.dialogs.pbx.size === 0, 3000, 'dialogs to be forgotten');
  });

  it('a set that drops its connection mid-call hangs the call up toward the other side', async () => {
    const carol = await new TestSet({ user: '1003', password: 'carol-secret-3', protocol: 'tls', host: HOST, port: 5061, ca: lab.ca }).start();
    expect((await carol.register()).response.status).toBe(200);
    bobAnswers();
    const before = bob.requests.filter((r) => r.method === 'BYE').length;
    expect((await carol.call('1002')).response.status).toBe(200);
    await carol.close();
    await waitFor(() => bob.requests.filter((r) => r.method === 'BYE').length > before, 5000, 'BYE at Bob');
  });
});
