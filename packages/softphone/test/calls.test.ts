import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audioFrames, framesWithTone, readWav } from '@psi-lab/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone, type Call, type PhoneOptions, type RtpSessionDescriptionHandler } from '../src/index.js';
import { startTestLab, type TestLab } from './helpers/lab.js';
import { leaseLoopbackAddress, waitFor, within } from '@psi-lab/testkit';

const HOST = await leaseLoopbackAddress();

/** RTP packets a call has received so far (0 before its media runs). */
const packetsReceived = (call: Call): number =>
  (call.session.sessionDescriptionHandler as RtpSessionDescriptionHandler | undefined)?.rtp?.statistics.packetsReceived ?? 0;

describe('calls between two softphones through the lab (gateway → pbx → gateway)', () => {
  let lab: TestLab;
  let alice: Phone;
  let bob: Phone;
  const dir = mkdtempSync(join(tmpdir(), 'psi-phone-calls-'));
  const bobDigits: string[] = [];
  /** Called at each digit Bob hears: a test sets it to learn when the digits it sent are in. */
  let onBobDigit = (): void => undefined;
  const newPhone = (options: Partial<PhoneOptions> & { user: string; password: string }): Phone => new Phone({ ca: lab.ca, servers: [`tls://${HOST}:5061`], ...options });

  beforeAll(async () => {
    lab = await startTestLab(HOST);
    alice = newPhone({ user: '1001', password: 'alice-1001' });
    bob = newPhone({
      user: '1002', password: 'bob-1002', servers: [`wss://${HOST}:8443/sip`],
      autoAnswer: { play: 'tone:440', record: join(dir, 'bob-heard.wav'), onDtmf: (d) => {
        bobDigits.push(d);
        onBobDigit();
      } },
    });
    expect(await alice.register()).toBe('Registered');
    expect(await bob.register()).toBe('Registered');
  });
  afterAll(async () => {
    await alice.close();
    await bob.close();
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ended = (call: Call): Promise<void> =>
    within(new Promise((r) => (call.state === 'ended' ? r() : call.once('ended', () => r()))), 10_000, `the call with ${call.peer} to end`);
  const connected = (call: Call): Promise<void> =>
    within(new Promise((r) => (call.state === 'connected' ? r() : call.once('state', (s) => s === 'connected' && r()))), 10_000, `the call with ${call.peer} to connect`);

  it('a 1 kHz tone from the caller is heard by the callee (WSS), and the callee\'s 440 Hz by the caller (TLS); DTMF arrives', async () => {
    bobDigits.length = 0;
    const incoming = new Promise<Call>((r) => bob.once('incoming', r));
    const call = await alice.call('1002', { play: 'tone:1000', record: join(dir, 'alice-heard.wav') });
    const bobCall = await within(incoming, 10_000, 'Bob\'s phone to ring');
    await connected(call);
    expect(bobCall.peer).toBe('1001');
    // A second of audio each way (which also makes the call last over a second in the log).
    await waitFor(() => packetsReceived(call) >= 50 && packetsReceived(bobCall) >= 50, 15_000,
      () => `50 RTP packets at each side (Alice has ${packetsReceived(call)}, Bob ${packetsReceived(bobCall)})`);
    const fourDigitsAtBob = new Promise<void>((r) => (onBobDigit = () => bobDigits.length >= 4 && r()));
    expect(call.sendDtmf('159#')).toBe(true);
    await within(fourDigitsAtBob, 10_000, () => `Bob to hear 4 DTMF digits (he heard ${JSON.stringify(bobDigits)})`);
    await call.hangUp();
    await ended(call);
    await ended(bobCall);
    expect(bobDigits).toEqual(['1', '5', '9', '#']);

    // A call ends only once its recording is written: no wait needed before reading it.
    const bobHeard = await readWav(join(dir, 'bob-heard.wav'));
    const aliceHeard = await readWav(join(dir, 'alice-heard.wav'));
    expect(bobHeard.sampleRate).toBe(8000);
    // Each side recorded the tone the other played, and never its own.
    const bobFrames = audioFrames(bobHeard.samples);
    const aliceFrames = audioFrames(aliceHeard.samples);
    expect(bobFrames.length).toBeGreaterThanOrEqual(40);
    expect(aliceFrames.length).toBeGreaterThanOrEqual(40);
    expect(framesWithTone(bobFrames, 1000)).toBeGreaterThan(0.9 * bobFrames.length);
    expect(framesWithTone(bobFrames, 440)).toBe(0);
    expect(framesWithTone(aliceFrames, 440)).toBeGreaterThan(0.9 * aliceFrames.length);
    expect(framesWithTone(aliceFrames, 1000)).toBe(0);

    const log = alice.callLog.list()[0];
    expect(log).toMatchObject({ direction: 'outgoing', peer: '1002', outcome: 'answered' });
    expect(log.durationSeconds).toBeGreaterThanOrEqual(1);
    expect(bob.callLog.list()[0]).toMatchObject({ direction: 'incoming', peer: '1001', outcome: 'answered' });
  });
});
