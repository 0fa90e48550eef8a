import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeIfSipp, startSipp, leaseLoopbackAddress, waitFor, within } from '@psi-lab/testkit';
import { Phone, type Call, type PhoneOptions, type RtpSessionDescriptionHandler } from '../src/index.js';
import { startTestLab, type TestLab } from './helpers/lab.js';

const HOST = await leaseLoopbackAddress();
/**
 * Where the pbx's trunk sends numbers starting with 0 (SIPp, in the last test). A fixed port on
 * this file's own address, outside the ephemeral range: no socket bound meanwhile can take it.
 */
const TRUNK_PORT = 5090;
/** Generous: a call's steps cross gateway and pbx, and a busy machine may stall them a while. */
const CALL_STEP_LIMIT_MS = 10_000;

const ended = (call: Call): Promise<void> =>
  within(new Promise((r) => (call.state === 'ended' ? r() : call.once('ended', () => r()))), CALL_STEP_LIMIT_MS, `the call with ${call.peer} to end`);
const connected = (call: Call): Promise<void> =>
  within(new Promise((r) => (call.state === 'connected' ? r() : call.once('state', (s) => s === 'connected' && r()))), CALL_STEP_LIMIT_MS, `the call with ${call.peer} to connect`);
/** The next call a phone rings with. */
const nextIncoming = (phone: Phone): Promise<Call> => within(new Promise<Call>((r) => phone.once('incoming', r)), CALL_STEP_LIMIT_MS, 'an incoming call');
/** The next call a phone logs as ended (it logs it just before saying so). */
const nextEnded = (phone: Phone): Promise<Call> => within(new Promise<Call>((r) => phone.once('ended', r)), CALL_STEP_LIMIT_MS, 'a call to end and be logged');

describe('placing, taking, refusing and ending calls', () => {
  let lab: TestLab;
  const phones: Phone[] = [];
  const newPhone = async (options: Partial<PhoneOptions> & { user: string; password: string }): Promise<Phone> => {
    const p = new Phone({ ca: lab.ca, servers: [`tls://${HOST}:5061`], ...options });
    phones.push(p);
    expect(await p.register()).toBe('Registered');
    return p;
  };

  beforeAll(async () => {
    lab = await startTestLab(HOST, { trunk: `${HOST}:${TRUNK_PORT}` });
  });
  // Even when a test fails: a phone left registered would take a later test's call.
  afterEach(async () => {
    for (const p of phones.splice(0)) await p.close();
  });
  afterAll(async () => {
    await lab.close();
  });

  it('a rejected call: the callee says busy, the caller logs busy and the callee rejected', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const bob = await newPhone({ user: '1002', password: 'bob-1002' });
    bob.once('incoming', (call) => void call.reject(486));
    const bobEnded = nextEnded(bob);
    const call = await alice.call('1002');
    await ended(call);
    expect(alice.callLog.list()[0]).toMatchObject({ direction: 'outgoing', peer: '1002', outcome: 'busy', detail: '486 Busy Here' });
    await bobEnded;
    expect(bob.callLog.list()[0]).toMatchObject({ direction: 'incoming', peer: '1001', outcome: 'rejected' });
  });

  it('the caller cancels while it rings: the callee logs a missed call', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const carol = await newPhone({ user: '1003', password: 'carol-1003' });
    const ringing = nextIncoming(carol);
    const call = await alice.call('1003');
    const carolCall = await ringing;
    await call.cancel();
    await ended(call);
    await ended(carolCall);
    expect(alice.callLog.list()[0]).toMatchObject({ outcome: 'cancelled' });
    expect(carol.callLog.list()[0]).toMatchObject({ direction: 'incoming', outcome: 'missed' });
  });

  it('several calls at once: one phone holds two connected calls, each hung up on its own', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const bob = await newPhone({ user: '1002', password: 'bob-1002', autoAnswer: { play: 'tone:440' } });
    const carol = await newPhone({ user: '1003', password: 'carol-1003', autoAnswer: { play: 'tone:880' } });
    const toBob = await alice.call('1002', { play: 'tone:1000' });
    const toCarol = await alice.call('1003', { play: 'tone:1000' });
    await Promise.all([connected(toBob), connected(toCarol)]);
    expect(alice.calls.size).toBe(2);
    await toBob.hangUp();
    await ended(toBob);
    expect(toCarol.state).toBe('connected');
    await toCarol.hangUp();
    await ended(toCarol);
    expect(alice.callLog.list().slice(0, 2).map((e) => e.peer).sort()).toEqual(['1002', '1003']);
  });

  it('both of a user\'s softphones ring; when one answers the other logs "completed elsewhere", not a missed call', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const desktop = await newPhone({ user: '1002', password: 'bob-1002' });
    const mobile = await newPhone({ user: '1002', password: 'bob-1002', servers: [`wss://${HOST}:8443/sip`] });
    const ringingDesktop = nextIncoming(desktop);
    const ringingMobile = nextIncoming(mobile);
    const call = await alice.call('1002');
    const [onDesktop, onMobile] = await Promise.all([ringingDesktop, ringingMobile]);
    await desktop.answer(onDesktop, { play: 'tone:440' });
    await connected(call);
    await ended(onMobile);
    expect(mobile.callLog.list()[0]).toMatchObject({ direction: 'incoming', peer: '1001', outcome: 'completed elsewhere' });
    await call.hangUp();
    await ended(onDesktop);
    expect(desktop.callLog.list()[0]).toMatchObject({ outcome: 'answered' });
  });

  it('an unknown extension fails with the SIP code in the call log', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001' });
    const call = await alice.call('1999');
    await ended(call);
    expect(alice.callLog.list()[0]).toMatchObject({ outcome: 'failed', detail: '404 Not Found' });
  });

  it('re-registers by itself after its connection drops (the gateway restarts)', async () => {
    const alice = await newPhone({ user: '1001', password: 'alice-1001', reconnectDelayMs: { min: 100, max: 500 } });
    const statuses: string[] = [];
    alice.on('status', (s) => statuses.push(s));
    await lab.stopGateway();
    await lab.startGateway();
    await waitFor(() => statuses.includes('Idle') && alice.status === 'Registered', 15_000,
      () => `the phone to lose its registration and register again (statuses: ${statuses.join(', ')})`);
    // Registered with the restarted gateway, not only in the phone's own view.
    expect(lab.gateway.gateway.status().registrations.some((r) => r.user === '1001')).toBe(true);
  }, 30_000);

  describeIfSipp('a SIPp UAS behind the pbx\'s trunk', () => {
    it('answers a softphone call to a number starting with 0', async () => {
      const uas = await startSipp({ scenario: 'call-uas.xml', transport: 'u1', calls: 1, localAddress: HOST, localPort: TRUNK_PORT, timeoutMs: 20_000 });
      await uas.ready;
      const alice = await newPhone({ user: '1001', password: 'alice-1001' });
      const call = await alice.call('0612345678', { play: 'tone:1000' });
      await connected(call);
      // The tone went out to the address the trunk's SDP gave.
      const packetsSent = (): number => (call.session.sessionDescriptionHandler as RtpSessionDescriptionHandler | undefined)?.rtp?.statistics.packetsSent ?? 0;
      await waitFor(() => packetsSent() >= 10, CALL_STEP_LIMIT_MS, () => `10 RTP packets sent to the trunk (${packetsSent()} so far)`);
      await call.hangUp();
      await ended(call);
      uas.stop();
      const result = await uas.result;
      expect(result.successful, result.errors).toBe(1);
      expect(alice.callLog.list()[0]).toMatchObject({ peer: '0612345678', outcome: 'answered' });
    });
  });
});
