import { EVENT_LIMIT_MS, leaseLoopbackAddress, waitFor } from '@psi-lab/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RtpAudioStream, ToneSource, createAudioAnswer, createAudioOffer, detectTone, negotiatedFromAnswer, type NegotiatedAudio,
} from '../src/index.js';

/**
 * This file's own loopback address: a stream hears only its negotiated peer's address, so on a
 * shared 127.0.0.1 a stray packet from another test file would get through.
 */
const HOST = await leaseLoopbackAddress();

/** Generous: both streams share one event loop, and a busy machine may stall it for a while. */
const WAIT_LIMIT_MS = EVENT_LIMIT_MS;

/** Two streams that negotiated with each other over HOST, as two phones would. */
async function pair(options: { aCodecs?: Array<'PCMU' | 'PCMA'>; bCodecs?: Array<'PCMU' | 'PCMA'> } = {}) {
  const heardByA: Int16Array[] = [];
  const heardByB: Int16Array[] = [];
  const digitsAtB: string[] = [];
  const digitListeners = new Set<() => void>();
  const a = await RtpAudioStream.open({ address: HOST, onAudio: (f) => heardByA.push(f) });
  const b = await RtpAudioStream.open({
    address: HOST, onAudio: (f) => heardByB.push(f),
    onDtmf: (d) => {
      digitsAtB.push(d);
      for (const listener of digitListeners) listener();
    },
  });
  const offer = createAudioOffer({ address: HOST, port: a.localPort, codecs: options.aCodecs, telephoneEvent: { payloadType: 101 } });
  const answer = createAudioAnswer(offer, { address: HOST, port: b.localPort, codecs: options.bCodecs });
  expect(answer.accepted).toBe(true);
  b.configure(answer as NegotiatedAudio);
  const atA = negotiatedFromAnswer(offer, answer.sdp);
  expect(atA.accepted).toBe(true);
  a.configure(atA as NegotiatedAudio);
  /** Resolves once B has heard `count` digits; rejects, saying what it got, after WAIT_LIMIT_MS. */
  const digitsHeardByB = (count: number): Promise<string[]> => new Promise((resolve, reject) => {
    const check = (): void => {
      if (digitsAtB.length < count) return;
      settle();
      resolve([...digitsAtB]);
    };
    const timer = setTimeout(() => {
      settle();
      reject(new Error(`B heard ${JSON.stringify(digitsAtB)} within ${WAIT_LIMIT_MS / 1000} s, not ${count} digits`));
    }, WAIT_LIMIT_MS);
    const settle = (): void => {
      clearTimeout(timer);
      digitListeners.delete(check);
    };
    digitListeners.add(check);
    check();
  });
  return { a, b, heardByA, heardByB, digitsHeardByB, codec: (answer as NegotiatedAudio).codec };
}

/**
 * Frames that carry audio. A frame the stream had to conceal (nothing arrived in time: the jitter
 * buffer priming, or catching up after the event loop stalled) is all zeros, and says nothing
 * about what the other side sent.
 */
const realFrames = (frames: Int16Array[]): Int16Array[] => frames.filter((f) => f.some((s) => s !== 0));
const framesWithTone = (frames: Int16Array[], frequency: number): number => frames.filter((f) => detectTone(f, frequency)).length;

describe('RtpAudioStream over real UDP', () => {
  const open: RtpAudioStream[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it.each([['PCMU'], ['PCMA']] as const)('a 1 kHz tone sent by one side is heard by the other (%s), and a 440 Hz tone back', async (codec) => {
    const p = await pair({ aCodecs: [codec], bCodecs: ['PCMU', 'PCMA'] });
    open.push(p.a, p.b);
    expect(p.codec).toBe(codec);
    p.a.play(new ToneSource({ frequency: 1000 }));
    p.b.play(new ToneSource({ frequency: 440 }));
    await waitFor(() => realFrames(p.heardByB).length >= 25 && realFrames(p.heardByA).length >= 25, EVENT_LIMIT_MS, '25 frames of audio at each side');
    // Frame by frame (20 ms each): a frame lost to a stall then breaks no tone's phase.
    const atB = realFrames(p.heardByB).slice(-20);
    const atA = realFrames(p.heardByA).slice(-20);
    expect(framesWithTone(atB, 1000)).toBeGreaterThanOrEqual(18);
    expect(framesWithTone(atB, 440)).toBe(0);
    expect(framesWithTone(atA, 440)).toBeGreaterThanOrEqual(18);
    expect(framesWithTone(atA, 1000)).toBe(0);
    expect(p.a.statistics.packetsSent).toBeGreaterThanOrEqual(25);
    expect(p.b.statistics.packetsReceived).toBeGreaterThanOrEqual(25);
    expect(p.b.statistics.packetsSent).toBeGreaterThanOrEqual(25);
    expect(p.a.statistics.packetsReceived).toBeGreaterThanOrEqual(25);
  });

  it('sends DTMF digits as RFC 4733 events that arrive once each, in order', async () => {
    const p = await pair();
    open.push(p.a, p.b);
    expect(p.a.sendDtmf('1#9')).toBe(true);
    expect(await p.digitsHeardByB(3)).toEqual(['1', '#', '9']);
  });

  it('hears silence, not garbage (nor the last frame again), once nothing arrives', async () => {
    const p = await pair();
    open.push(p.a, p.b);
    // The control: B does hear A while A sends, so the silence below is A having stopped.
    p.a.play(new ToneSource({ frequency: 1000 }));
    await waitFor(() => framesWithTone(p.heardByB, 1000) >= 5, EVENT_LIMIT_MS, 'B to hear the tone from A');
    await p.a.close();
    const from = p.heardByB.length;
    await waitFor(() => p.heardByB.length >= from + 36, EVENT_LIMIT_MS, 'B to play 36 more frames');
    // What A sent before closing may still play for up to 16 frames: the jitter buffer keeps at
    // most 12 (4 × its 60 ms depth), plus 3 of priming should it have run dry meanwhile.
    const after = p.heardByB.slice(from + 16);
    expect(after.length).toBeGreaterThanOrEqual(20);
    expect(after.every((frame) => frame.every((s) => s === 0))).toBe(true);
  });
});
