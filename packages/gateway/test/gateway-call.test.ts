import { SessionDescription } from '@psi-lab/media';
import { Dialog, type IncomingRequest, type RequestResult, type SipRequest } from '@psi-lab/sip';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { endpointMedia } from '../src/media/index.js';
import { CALL_IDLE_LIMIT_MS, DialogReaper } from '../src/relay/dialog-reaper.js';
import { startGatewayLab, type GatewayLab } from './helpers/gateway-lab.js';
import { TestSet, waitFor } from './helpers/test-set.js';

const HOST = await leaseLoopbackAddress();

describe('calls through gateway → pbx → gateway', () => {
  let lab: GatewayLab;
  let alice: TestSet;
  let bob: TestSet;

  beforeAll(async () => {
    lab = await startGatewayLab(HOST);
    alice = await new TestSet({ user: '1001', password: 'alice-secret-1', protocol: 'tls', host: HOST, port: 5061, ca: lab.ca }).start();
    bob = await new TestSet({ user: '1002', password: 'bob-secret-22', protocol: 'wss', host: HOST, port: 8443, path: '/sip', ca: lab.ca }).start();
    expect((await alice.register()).response.status).toBe(200);
    expect((await bob.register()).response.status).toBe(200);
  });
  // Each test ends its calls: what the next one counts (dialogs, calls, the reaper's sweep) is its own.
  afterEach(async () => {
    const { dialogs, media } = lab.gateway.context;
    const settled = (): boolean => dialogs.set.size === 0 && dialogs.pbx.size === 0
      && lab.gateway.status().counters.callsActive === 0 && media.stats.activeSessions === 0;
    await waitFor(settled, undefined, 'every call of the test to be torn down (dialogs, calls, media sessions)');
  });
  afterAll(async () => {
    await alice?.close();
    await bob?.close();
    await lab?.close();
  });

  /** A request with this Call-ID that a set received. */
  const received = (set: TestSet, method: string, callId: string): IncomingRequest | undefined =>
    set.requests.find((r) => r.method === method && r.callId === callId);

  /** Bob answers: 180, then 200 with his SDP. */
  const bobAnswers = (): void => {
    bob.onInvite = (_req, res) => {
      void res.send(180);
      setTimeout(() => void res.send(200, { body: bob.sdp(), headers: { 'Content-Type': 'application/sdp' } }), 50);
    };
  };

  async function establish(): Promise<{ result: RequestResult; aliceLeg: Dialog; bobLeg: Dialog; bobInvite: IncomingRequest }> {
    bobAnswers();
    const invitesBefore = bob.invites.length;
    const result = await alice.call('1002');
    expect(result.response.status).toBe(200);
    await waitFor(() => bob.invites.length > invitesBefore, undefined, 'the INVITE at Bob');
    const bobInvite = bob.invites[bob.invites.length - 1];
    const aliceLeg = Dialog.fromResponse(alice.app, result.request, result.response, { flow: result.flow });
    // Bob's end of his dialog: the gateway's dialog with Bob knows the To tag he answered with.
    const bobDialog = () => [...lab.gateway.context.dialogs.set.values()].map((d) => d.state).find((s) => s.callId === bobInvite.callId);
    await waitFor(() => bobDialog()?.remoteTag !== undefined, undefined, 'the gateway\'s dialog with Bob');
    const bobLeg = Dialog.fromIncoming(bob.app, bobInvite, bobDialog()!.remoteTag, { keepFlow: true });
    return { result, aliceLeg, bobLeg, bobInvite };
  }

  /** Where an SDP body sends RTP: its first audio stream's address and port. */
  const rtpTarget = (sdp: string): { address: string; port: number } => {
    const rtp = endpointMedia(SessionDescription.parse(sdp))[0]?.rtp;
    if (!rtp) throw new Error(`no enabled audio stream in the SDP:\n${sdp}`);
    return rtp;
  };
  const gatewayPorts = (): RegExp => new RegExp(`:(${lab.pbx.port}|${lab.gateway.listeners.pbxSide[0].local.port})\\b`);

  it('a call connects with RTP relayed both ways, and neither side sees the other\'s addresses', async () => {
    const { result, aliceLeg, bobInvite: invite } = await establish();
    // Topology hiding: Bob sees only the gateway (neither the pbx's port nor the gateway's toward it); Alice too.
    expect(invite.toString()).not.toMatch(gatewayPorts());
    expect(invite.get('from')).toContain('1001');
    expect(result.response.toString()).not.toMatch(gatewayPorts());
    const answer = result.response.body.toString();
    const offer = invite.body.toString();
    // Each side sends its RTP to the gateway, never to the other side's socket.
    expect(rtpTarget(answer).address).toBe(HOST);
    expect(rtpTarget(answer)).not.toEqual({ address: bob.localAddress, port: bob.rtp.address().port });
    expect(rtpTarget(offer).address).toBe(HOST);
    expect(rtpTarget(offer)).not.toEqual({ address: alice.localAddress, port: alice.rtp.address().port });

    alice.sendRtp(answer, 'hello-from-alice');
    await waitFor(() => bob.heard('hello-from-alice'), undefined, 'Alice\'s RTP at Bob');
    bob.sendRtp(offer, 'hello-from-bob');
    await waitFor(() => alice.heard('hello-from-bob'), undefined, 'Bob\'s RTP at Alice');
    expect(lab.gateway.status().counters.rtpPackets).toBeGreaterThan(0);
    expect(lab.gateway.status().counters.callsActive).toBeGreaterThan(0);

    const bye = await aliceLeg.request('BYE');
    expect(bye.response.status).toBe(200);
    await waitFor(() => received(bob, 'BYE', invite.callId) !== undefined, undefined, 'the BYE at Bob');
  });

  it('re-INVITE (hold), INFO, MESSAGE and UPDATE cross in both directions; Bob hangs up', async () => {
    const { result, aliceLeg, bobLeg, bobInvite } = await establish();
    const hold = alice.sdp().replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\r\na=sendonly');
    const reinvite = await aliceLeg.request('INVITE', { body: hold, headers: { 'Content-Type': 'application/sdp' } });
    expect(reinvite.response.status).toBe(200);
    const info = await aliceLeg.request('INFO', { body: 'Signal=5\r\nDuration=160\r\n', headers: { 'Content-Type': 'application/dtmf-relay' } });
    expect(info.response.status).toBe(200);
    const relayedInfo = received(bob, 'INFO', bobInvite.callId);
    expect(relayedInfo?.body.toString()).toContain('Signal=5');
    expect(relayedInfo?.get('content-type')).toBe('application/dtmf-relay');
    const message = await bobLeg.request('MESSAGE', { body: 'hi alice', headers: { 'Content-Type': 'text/plain' } });
    expect(message.response.status).toBe(200);
    await waitFor(() => received(alice, 'MESSAGE', result.request.callId)?.body.toString() === 'hi alice', undefined, 'the MESSAGE at Alice');
    const update = await bobLeg.request('UPDATE', { body: bob.sdp(), headers: { 'Content-Type': 'application/sdp' } });
    expect(update.response.status).toBe(200);
    const bye = await bobLeg.request('BYE');
    expect(bye.response.status).toBe(200);
    await waitFor(() => received(alice, 'BYE', result.request.callId) !== undefined, undefined, 'the BYE at Alice');
  });

  it('a re-INVITE answered with SDP that cannot be relayed: 500 to the sender, the call hung up, the gateway lives on', async () => {
    const { aliceLeg, bobInvite: invite } = await establish();
    bob.onInvite = (_req, res) => void res.send(200, { body: 'this is not sdp', headers: { 'Content-Type': 'application/sdp' } });
    const reinvite = await aliceLeg.request('INVITE', { body: alice.sdp(), headers: { 'Content-Type': 'application/sdp' } });
    expect(reinvite.response.status).toBe(500);
    await waitFor(() => received(bob, 'BYE', invite.callId) !== undefined, undefined, 'the BYE at Bob');
    await waitFor(() => lab.gateway.status().counters.callsActive === 0, undefined, 'the call to end');
    // And a new call still works.
    const next = await establish();
    expect((await next.aliceLeg.request('BYE')).response.status).toBe(200);
    await waitFor(() => received(bob, 'BYE', next.bobInvite.callId) !== undefined, undefined, 'the second call\'s BYE at Bob');
  });

  it('REFER and its NOTIFY cross inside a call', async () => {
    const { result, aliceLeg, bobLeg, bobInvite } = await establish();
    const refer = await aliceLeg.request('REFER', { headers: { 'Refer-To': `<sip:1003@${HOST}>`, 'Referred-By': `<sip:1001@${HOST}>` } });
    expect(refer.response.status).toBe(200);
    const relayed = received(bob, 'REFER', bobInvite.callId);
    expect(relayed?.get('refer-to')).toBe(`<sip:1003@${HOST}>`);
    // Referred-By crossed the pbx hop rewritten both ways: Bob sees the gateway's domain, not the pbx's.
    expect(relayed?.get('referred-by')).toBe(`<sip:1001@${HOST}>`);
    const notify = await bobLeg.request('NOTIFY', { body: 'SIP/2.0 200 OK\r\n', headers: { Event: 'refer', 'Subscription-State': 'terminated;reason=noresource', 'Content-Type': 'message/sipfrag' } });
    expect(notify.response.status).toBe(200);
    await waitFor(() => received(alice, 'NOTIFY', result.request.callId)?.get('event') === 'refer', undefined, 'the NOTIFY at Alice');
    expect((await aliceLeg.request('BYE')).response.status).toBe(200);
    await waitFor(() => received(bob, 'BYE', bobInvite.callId) !== undefined, undefined, 'the BYE at Bob');
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
    let prackSent: Promise<RequestResult> | undefined;
    const result = await alice.call('1002', {
      headers: [['Contact', alice.contact], ['Supported', '100rel']],
      onTransaction: (tx) => (invite = tx.request),
      onProvisional: (r) => {
        if (r.status !== 183 || !invite) return;
        expect(r.get('require')).toBe('100rel');
        // To the gateway's Contact over TLS: the connection the INVITE went out on is reused.
        const early = Dialog.fromResponse(alice.app, invite, r);
        prackSent = early.request('PRACK', { headers: { RAck: `${r.get('rseq')} ${invite.cseq.seq} INVITE` } });
      },
    });
    expect(result.response.status).toBe(200);
    // The PRACK's own transaction: its 200 may come after the INVITE's.
    expect(prackSent, 'a PRACK was sent for the 183').toBeDefined();
    expect((await prackSent!).response.status).toBe(200);
    const bobInvite = bob.invites[bob.invites.length - 1];
    const prack = received(bob, 'PRACK', bobInvite.callId)!;
    // Bob sees his own RSeq and the CSeq of the INVITE on his leg, not Alice's.
    expect(prack.get('rack')).toBe(`${bobRseq} ${bobInvite.msg.cseq.seq} INVITE`);
    const aliceLeg = Dialog.fromResponse(alice.app, result.request, result.response, { flow: result.flow });
    expect((await aliceLeg.request('BYE')).response.status).toBe(200);
    // The confirmed dialog numbers past the early dialog's PRACK (RFC 3261 §12.2.1.1).
    await waitFor(() => received(bob, 'BYE', bobInvite.callId) !== undefined, undefined, 'the BYE at Bob');
    const bye = received(bob, 'BYE', bobInvite.callId)!;
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
    await waitFor(() => bob.invites.length > before, undefined, 'the INVITE at Bob');
    const invite = bob.invites[bob.invites.length - 1];
    await waitFor(() => invite.canceled, undefined, 'CANCEL at Bob');
    await waitFor(() => lab.gateway.context.dialogs.set.size === 0 && lab.gateway.context.dialogs.pbx.size === 0, undefined, 'dialogs to be forgotten');
  });

  it('a busy callee: 486 reaches the caller and nothing stays behind', async () => {
    bob.onInvite = (_req, res) => void res.send(486);
    const { response } = await alice.call('1002');
    expect(response.status).toBe(486);
    await waitFor(() => lab.gateway.context.dialogs.set.size === 0 && lab.gateway.context.dialogs.pbx.size === 0, undefined, 'dialogs to be forgotten');
  });

  it('session timers (RFC 4028) negotiated through the gateway: a refresh restarts the clock; with none, the call is hung up on both sides at Session-Expires', async () => {
    const sessionTimer = (seconds: number): Array<[string, string]> => [['Require', 'timer'], ['Session-Expires', `${seconds};refresher=uac`]];
    bob.onInvite = (req, res) => {
      // The first INVITE gets 2 s, the refresh 3 s: the BYE's time tells which one ran out.
      const seconds = req.msg.to.tag === undefined ? 2 : 3;
      void res.send(200, { body: bob.sdp(), headers: [['Content-Type', 'application/sdp'], ...sessionTimer(seconds)] });
    };
    const result = await alice.call('1002', { headers: [['Contact', alice.contact], ['Supported', 'timer'], ['Session-Expires', '2']] });
    expect(result.response.status).toBe(200);
    // Session-Expires, Require and Supported: timer crossed both legs to Alice.
    expect(result.response.get('session-expires')).toBe('2;refresher=uac');
    expect(result.response.getAll('require')).toContain('timer');
    const bobInvite = bob.invites[bob.invites.length - 1];
    expect(bobInvite.get('session-expires')).toBe('2');
    expect(bobInvite.getAll('supported')).toContain('timer');

    const aliceLeg = Dialog.fromResponse(alice.app, result.request, result.response, { flow: result.flow });
    const refresh = await aliceLeg.request('INVITE', { body: alice.sdp(), headers: { 'Content-Type': 'application/sdp', 'Session-Expires': '3', Supported: 'timer' } });
    expect(refresh.response.status).toBe(200);
    const refreshedAt = Date.now();
    await waitFor(() => received(alice, 'BYE', result.request.callId) !== undefined && received(bob, 'BYE', bobInvite.callId) !== undefined, 15_000, 'the BYEs of the expired session');
    const byeAtAlice = received(alice, 'BYE', result.request.callId)!;
    expect(byeAtAlice.get('reason')).toBe('SIP;cause=408;text="session timer expired"');
    // The refresh's 3 s ran out, not the first 2 s (a timer fires late on a busy machine, never early).
    expect(Date.now() - refreshedAt).toBeGreaterThanOrEqual(2900);
  });

  it('a call left with neither SIP nor RTP for an hour is hung up on both sides', async () => {
    const { result, bobInvite: invite } = await establish();
    const ctx = lab.gateway.context;
    let skew = 0;
    const reaper = new DialogReaper({ ...ctx, now: () => Date.now() + skew });
    expect(reaper.sweep()).toBe(0); // the first look starts the RTP clock
    skew = CALL_IDLE_LIMIT_MS / 2;
    expect(reaper.sweep()).toBe(0); // half an hour of silence is not enough
    skew = CALL_IDLE_LIMIT_MS + 1000;
    expect(reaper.sweep()).toBe(2); // both passages through the gateway: Alice ↔ pbx and pbx ↔ Bob
    await waitFor(() => received(bob, 'BYE', invite.callId) !== undefined, undefined, 'the BYE at Bob');
    await waitFor(() => received(alice, 'BYE', result.request.callId) !== undefined, undefined, 'the BYE at Alice');
    await waitFor(() => ctx.dialogs.set.size === 0 && ctx.dialogs.pbx.size === 0, undefined, 'dialogs to be forgotten');
  });

  it('a set that drops its connection mid-call hangs the call up toward the other side', async () => {
    const carol = await new TestSet({ user: '1003', password: 'carol-secret-3', protocol: 'tls', host: HOST, port: 5061, ca: lab.ca }).start();
    expect((await carol.register()).response.status).toBe(200);
    bobAnswers();
    const invitesBefore = bob.invites.length;
    expect((await carol.call('1002')).response.status).toBe(200);
    await waitFor(() => bob.invites.length > invitesBefore, undefined, 'Carol\'s INVITE at Bob');
    const carolsCall = bob.invites[bob.invites.length - 1].callId;
    expect(received(bob, 'BYE', carolsCall)).toBeUndefined();
    await carol.close();
    await waitFor(() => received(bob, 'BYE', carolsCall) !== undefined, undefined, 'the BYE for Carol\'s call at Bob');
  });
});
