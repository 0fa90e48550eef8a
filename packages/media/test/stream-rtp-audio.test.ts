import { afterEach, describe, expect, it } from 'vitest';
import {
  RtpAudioStream, ToneSource, createAudioAnswer, createAudioOffer, detectTone, negotiatedFromAnswer, type NegotiatedAudio,
} from '../src/index.js';

/** Two streams that negotiated with each other over 127.0.0.1, as two phones would. */
async function pair(options: { aCodecs?: Array<'PCMU' | 'PCMA'>; bCodecs?: Array<'PCMU' | 'PCMA'> } = {}) {
  const heardByA: Int16Array[] = [];
  const heardByB: Int16Array[] = [];
  const digitsAtB: string[] = [];
  const a = await RtpAudioStream.open({ address: '127.0.0.1', onAudio: (f) => heardByA.push(f) });
  const b = await RtpAudioStream.open({ address: '127.0.0.1', onAudio: (f) => heardByB.push(f), onDtmf: (d) => digitsAtB.push(d) });
  const offer = createAudioOffer({ address: '127.0.0.1', port: a.localPort, codecs: options.aCodecs, telephoneEvent: { payloadType: 101 } });
  const answer = createAudioAnswer(offer, { address: '127.0.0.1', port: b.localPort, codecs: options.bCodecs });
  expect(answer.accepted).toBe(true);
  b.configure(answer as NegotiatedAudio);
  const atA = negotiatedFromAnswer(offer, answer.sdp);
  expect(atA.accepted).toBe(true);
  a.configure(atA as NegotiatedAudio);
  return { a, b, heardByA, heardByB, digitsAtB, codec: (answer as NegotiatedAudio).codec };
}

function joined(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
    await wait(700);
    // Skip the jitter buffer's first frames of silence: the last 400 ms carry the tone.
    const atB = joined(p.heardByB.slice(-20));
    const atA = joined(p.heardByA.slice(-20));
    expect(detectTone(atB, 1000)).toBe(true);
    expect(detectTone(atB, 440)).toBe(false);
    expect(detectTone(atA, 440)).toBe(true);
    expect(detectTone(atA, 1000)).toBe(false);
    expect(p.a.statistics.packetsSent).toBeGreaterThan(20);
    expect(p.b.statistics.packetsReceived).toBeGreaterThan(20);
  });

  it('sends DTMF digits as RFC 4733 events that arrive once each, in order', async () => {
    const p = await pair();
    open.push(p.a, p.b);
    expect(p.a.sendDtmf('1#9')).toBe(true);
    for (let i = 0; i < 50 && p.digitsAtB.length < 3; i++) await wait(40);
    expect(p.digitsAtB).toEqual(['1', '#', '9']);
  });

  it('hears silence, not garbage, when nothing arrives', async () => {
    const p = await pair();
    open.push(p.a, p.b);
    await p.a.close();
    await wait(300);
    const atB = joined(p.heardByB.slice(-5));
    expect(atB.every((s) => Math.abs(s) < 64)).toBe(true);
  });
});
