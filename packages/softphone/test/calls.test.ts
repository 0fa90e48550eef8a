import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectTone, readWav } from '@psi-lab/media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Phone, type Call, type PhoneOptions } from '../src/index.js';
import { startTestLab, type TestLab } from './helpers/lab.js';

const HOST = '127.0.0.33';

describe('calls between two softphones through the lab (gateway → pbx → gateway)', () => {
  let lab: TestLab;
  let alice: Phone;
  let bob: Phone;
  const dir = mkdtempSync(join(tmpdir(), 'psi-phone-calls-'));
  const bobDigits: string[] = [];
  const newPhone = (options: Partial<PhoneOptions> & { user: string; password: string }): Phone => new Phone({ ca: lab.ca, servers: [`tls://${HOST}:5061`], ...options });

  beforeAll(async () => {
    lab = await startTestLab(HOST);
    alice = newPhone({ user: '1001', password: 'alice-1001' });
    bob = newPhone({
      user: '1002', password: 'bob-1002', servers: [`wss://${HOST}:8443/sip`],
      autoAnswer: { play: 'tone:440', record: join(dir, 'bob-heard.wav'), onDtmf: (d) => bobDigits.push(d) },
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

  const ended = (call: Call): Promise<void> => new Promise((r) => (call.state === 'ended' ? r() : call.once('ended', () => r())));
  const connected = (call: Call): Promise<void> => new Promise((r) => (call.state === 'connected' ? r() : call.once('state', (s) => s === 'connected' && r())));

  it('a 1 kHz tone from the caller is heard by the callee (WSS), and the callee\'s 440 Hz by the caller (TLS); DTMF arrives', async () => {
    const incoming = new Promise<Call>((r) => bob.once('incoming', r));
    const call = await alice.call('1002', { play: 'tone:1000', record: join(dir, 'alice-heard.wav') });
    const bobCall = await incoming;
    await connected(call);
    expect(bobCall.peer).toBe('1001');
    await new Promise((r) => setTimeout(r, 1200));
    expect(call.sendDtmf('159#')).toBe(true);
    for (let i = 0; i < 60 && bobDigits.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    await call.hangUp();
    await ended(call);
    await ended(bobCall);
    expect(bobDigits).toEqual(['1', '5', '9', '#']);

    // Recordings are written when the call's media closes.
    await new Promise((r) => setTimeout(r, 300));
    const bobHeard = await readWav(join(dir, 'bob-heard.wav'));
    const aliceHeard = await readWav(join(dir, 'alice-heard.wav'));
    expect(bobHeard.sampleRate).toBe(8000);
    // Half a second from the middle of each recording: the tone the other side played.
    const middle = (s: Int16Array): Int16Array => s.subarray(Math.floor(s.length / 2) - 2000, Math.floor(s.length / 2) + 2000);
    expect(detectTone(middle(bobHeard.samples), 1000)).toBe(true);
    expect(detectTone(middle(bobHeard.samples), 440)).toBe(false);
    expect(detectTone(middle(aliceHeard.samples), 440)).toBe(true);
    expect(detectTone(middle(aliceHeard.samples), 1000)).toBe(false);

    const log = alice.callLog.list()[0];
    expect(log).toMatchObject({ direction: 'outgoing', peer: '1002', outcome: 'answered' });
    expect(log.durationSeconds).toBeGreaterThanOrEqual(1);
    expect(bob.callLog.list()[0]).toMatchObject({ direction: 'incoming', peer: '1001', outcome: 'answered' });
  });
});
