import { describe, expect, it } from 'vitest';
import {
  DtmfReceiver,
  digitToEvent,
  dtmfPackets,
  encodeTelephoneEvent,
  eventToDigit,
  parseTelephoneEvent,
  type ReceivedDtmf,
} from '../src/dtmf/index.js';
import { RtpPacket } from '../src/rtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const PT = 101;

/**
 * A hand-built capture of a phone pressing '1' then '#' (payload type 101, SSRC 0x0badcafe,
 * 20 ms updates, 100 ms tones): marker on the first packet, one timestamp per event,
 * growing duration, then the E bit three times with the final duration 800.
 */
const CAPTURE = [
  '80 e5 0064 0000bb80 0badcafe 01 0a 00a0', // '1' start (M), duration 160
  '80 65 0065 0000bb80 0badcafe 01 0a 0140', // 320
  '80 65 0066 0000bb80 0badcafe 01 0a 01e0', // 480
  '80 65 0067 0000bb80 0badcafe 01 0a 0280', // 640
  '80 65 0068 0000bb80 0badcafe 01 8a 0320', // end, 800
  '80 65 0069 0000bb80 0badcafe 01 8a 0320', // end again
  '80 65 006a 0000bb80 0badcafe 01 8a 0320', // end a third time
  '80 e5 006b 0000c800 0badcafe 0b 0a 00a0', // '#' start (M) at timestamp 51200
  '80 65 006c 0000c800 0badcafe 0b 0a 0140',
  '80 65 006d 0000c800 0badcafe 0b 8a 0190', // end, 400
  '80 65 006e 0000c800 0badcafe 0b 8a 0190',
  '80 65 006f 0000c800 0badcafe 0b 8a 0190',
].map((bytes) => RtpPacket.parse(hex(bytes)));

function receive(packets: RtpPacket[]): { digits: ReceivedDtmf[]; receiver: DtmfReceiver } {
  const digits: ReceivedDtmf[] = [];
  const receiver = new DtmfReceiver({ payloadType: PT, onDigit: (d) => digits.push(d) });
  for (const packet of packets) receiver.push(packet);
  return { digits, receiver };
}

describe('telephone-event payload', () => {
  it('encodes event, E bit, volume and duration per RFC 4733 §2.3', () => {
    expect(encodeTelephoneEvent({ event: 5, end: true, volume: 10, duration: 800 })).toEqual(hex('05 8a 0320'));
    expect(encodeTelephoneEvent({ event: 11, end: false, volume: 63, duration: 65535 })).toEqual(hex('0b 3f ffff'));
  });

  it('parses it back, ignoring the reserved bit', () => {
    expect(parseTelephoneEvent(hex('0b 4a 0140'))).toEqual({ event: 11, end: false, volume: 10, duration: 320 });
    expect(parseTelephoneEvent(hex('01 8a 0320'))).toEqual({ event: 1, end: true, volume: 10, duration: 800 });
    expect(() => parseTelephoneEvent(hex('01 8a 03'))).toThrow(/3 octets, needs 4/);
  });

  it('maps digits to events 0-15 and back', () => {
    expect([...'0123456789*#ABCD'].map(digitToEvent)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(digitToEvent('d')).toBe(15);
    expect(eventToDigit(10)).toBe('*');
    expect(eventToDigit(16)).toBeUndefined();
    expect(() => digitToEvent('E')).toThrow(/'E' is not one of/);
    expect(() => encodeTelephoneEvent({ event: 1, end: false, volume: 64, duration: 0 })).toThrow(/volume 64/);
  });
});

describe('dtmfPackets', () => {
  it('produces one update with the marker and three end packets for 100 ms at 50 ms', () => {
    const packets = dtmfPackets('5', { payloadType: PT, ssrc: 42, startSeq: 65535, timestamp: 1000 });
    expect(packets.map((p) => p.sequenceNumber)).toEqual([65535, 0, 1, 2]);
    expect(packets.map((p) => p.marker)).toEqual([true, false, false, false]);
    expect(new Set(packets.map((p) => p.timestamp))).toEqual(new Set([1000]));
    expect(packets.every((p) => p.payloadType === PT && p.ssrc === 42)).toBe(true);
    expect(packets.map((p) => parseTelephoneEvent(p.payload))).toEqual([
      { event: 5, end: false, volume: 10, duration: 400 },
      { event: 5, end: true, volume: 10, duration: 800 },
      { event: 5, end: true, volume: 10, duration: 800 },
      { event: 5, end: true, volume: 10, duration: 800 },
    ]);
  });

  it('reproduces the hand-built capture for 20 ms updates', () => {
    const packets = dtmfPackets('1', { payloadType: PT, ssrc: 0x0badcafe, startSeq: 100, timestamp: 48000, packetMs: 20 });
    expect(packets.map((p) => p.serialize())).toEqual(CAPTURE.slice(0, 7).map((p) => p.serialize()));
  });

  it('sends only the end packets (first one marked) for a tone no longer than one interval', () => {
    const packets = dtmfPackets('#', { payloadType: PT, ssrc: 1, startSeq: 0, timestamp: 0, durationMs: 40 });
    expect(packets.map((p) => [p.marker, parseTelephoneEvent(p.payload).end, parseTelephoneEvent(p.payload).duration])).toEqual([
      [true, true, 320],
      [false, true, 320],
      [false, true, 320],
    ]);
  });

  it('refuses tones longer than the 16-bit duration field', () => {
    expect(() => dtmfPackets('1', { payloadType: PT, ssrc: 1, startSeq: 0, timestamp: 0, durationMs: 9000 })).toThrow(/16-bit duration/);
  });
});

describe('DtmfReceiver', () => {
  it('reports each digit of the capture once, with its duration', () => {
    const { digits, receiver } = receive(CAPTURE);
    expect(digits.map((d) => [d.digit, d.timestamp, d.duration, d.durationMs, d.ended])).toEqual([
      ['1', 48000, 800, 100, true],
      ['#', 51200, 400, 50, true],
    ]);
    expect(receiver.pending).toBe(false);
  });

  it('tolerates losing the first packets and two of the three end packets', () => {
    const lossy = CAPTURE.filter((_, i) => ![0, 1, 4, 5, 7, 9, 10].includes(i));
    expect(receive(lossy).digits.map((d) => d.digit)).toEqual(['1', '#']);
  });

  it('ignores duplicated and late retransmissions', () => {
    const messy = [...CAPTURE.slice(0, 6), CAPTURE[5], CAPTURE[4], ...CAPTURE.slice(6), CAPTURE[6], CAPTURE[2], CAPTURE[11]];
    expect(receive(messy).digits.map((d) => d.digit)).toEqual(['1', '#']);
  });

  it('reports a digit whose end packets were all lost when the next one starts, in order', () => {
    const noEnd = CAPTURE.filter((_, i) => ![4, 5, 6].includes(i));
    const { digits } = receive(noEnd);
    expect(digits.map((d) => [d.digit, d.duration, d.ended])).toEqual([
      ['1', 640, false],
      ['#', 400, true],
    ]);
  });

  it('reports a pending digit on flush, and only once', () => {
    const { digits, receiver } = receive(CAPTURE.slice(0, 3));
    expect(digits).toEqual([]);
    expect(receiver.pending).toBe(true);
    receiver.flush();
    receiver.flush();
    receiver.push(CAPTURE[4]); // its end arrives after all: already reported
    expect(digits.map((d) => [d.digit, d.ended])).toEqual([['1', false]]);
  });

  it('does not report a straggler of an older, unseen event after a newer one started', () => {
    const { digits } = receive([CAPTURE[7], CAPTURE[1], CAPTURE[9]]);
    expect(digits.map((d) => d.digit)).toEqual(['#']);
  });

  it('tells the same digit pressed twice apart by timestamp', () => {
    const first = dtmfPackets('7', { payloadType: PT, ssrc: 9, startSeq: 0, timestamp: 0 });
    const second = dtmfPackets('7', { payloadType: PT, ssrc: 9, startSeq: 4, timestamp: 2400 });
    expect(receive([...first, ...second]).digits.map((d) => [d.digit, d.timestamp])).toEqual([
      ['7', 0],
      ['7', 2400],
    ]);
  });

  it('ignores other payload types and non-DTMF events, and counts malformed payloads', () => {
    const audio = new RtpPacket({ payloadType: 0, sequenceNumber: 1, timestamp: 0, ssrc: 1, payload: hex('01 8a 0320') });
    const flash = new RtpPacket({ payloadType: PT, sequenceNumber: 2, timestamp: 0, ssrc: 1, payload: hex('10 8a 0320') });
    const short = new RtpPacket({ payloadType: PT, sequenceNumber: 3, timestamp: 0, ssrc: 1, payload: hex('01 8a') });
    const { digits, receiver } = receive([audio, flash, short]);
    expect(digits).toEqual([]);
    expect(receiver.malformed).toBe(1);
  });
});
