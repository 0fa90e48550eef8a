import { describe, expect, it } from 'vitest';
import { RtpError, RtpPacket, isRtcp, seqAdd, seqDistance, seqNewer } from '../src/rtp/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RtpPacket.parse on hand-built captures', () => {
  it('reads a plain PCMU packet', () => {
    // V=2 PT=0 seq=8000 ts=64000 ssrc=0xdeadbeef, four µ-law silence bytes.
    const packet = RtpPacket.parse(hex('80 00 1f40 0000fa00 deadbeef ffffffff'));
    expect(packet.version).toBe(2);
    expect(packet.marker).toBe(false);
    expect(packet.payloadType).toBe(0);
    expect(packet.sequenceNumber).toBe(8000);
    expect(packet.timestamp).toBe(64000);
    expect(packet.ssrc).toBe(0xdeadbeef);
    expect(packet.csrcs).toEqual([]);
    expect(packet.padding).toBe(0);
    expect(packet.extension).toBeUndefined();
    expect([...packet.payload]).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('reads marker, CSRC, a raw header extension and strips padding', () => {
    const wire = hex('b1 e0 0001 00000002 11223344 55667788 bede0001 10aa0000 010203 000003');
    const packet = RtpPacket.parse(wire);
    expect(packet.marker).toBe(true);
    expect(packet.payloadType).toBe(96);
    expect(packet.csrcs).toEqual([0x55667788]);
    expect(packet.extension?.profile).toBe(0xbede);
    expect(packet.extension?.data).toEqual(hex('10aa0000'));
    expect(packet.padding).toBe(3);
    expect(packet.payload).toEqual(hex('010203'));
    expect(packet.headerLength).toBe(24);
    // Serializing reproduces the capture octet for octet.
    expect(packet.serialize()).toEqual(wire);
  });

  it('does not share memory with the input buffer', () => {
    const wire = hex('80 00 0001 00000000 00000001 aabb');
    const packet = RtpPacket.parse(wire);
    wire[12] = 0;
    expect(packet.payload[0]).toBe(0xaa);
  });

  it.each([
    ['shorter than 12 octets', '80 00 0001 00000000 0000', /too short: 10 octets/],
    ['version 1', '40 00 0001 00000000 00000001', /version 1/],
    ['version 0', '00 00 0001 00000000 00000001', /version 0/],
    ['CSRC count beyond the packet', '83 00 0001 00000000 00000001 00000002', /CSRC count 3/],
    ['padding larger than the payload', 'a0 00 0001 00000000 00000001 0102 09', /padding count 9/],
    ['padding count of zero', 'a0 00 0001 00000000 00000001 0102 00', /padding count 0/],
    ['extension header cut off', '90 00 0001 00000000 00000001 bede', /extension header at offset 12 is cut off/],
    ['extension length beyond the packet', '90 00 0001 00000000 00000001 bede0002 00000000', /claims 8 octets, only 4 remain/],
  ])('rejects a packet with %s', (_what, bytes, message) => {
    expect(() => RtpPacket.parse(hex(bytes))).toThrow(RtpError);
    expect(() => RtpPacket.parse(hex(bytes))).toThrow(message);
  });
});

describe('RtpPacket.serialize', () => {
  it('writes the header fields at their RFC 3550 positions', () => {
    const packet = new RtpPacket({ payloadType: 8, sequenceNumber: 0xabcd, timestamp: 0x01020304, ssrc: 0xcafebabe, marker: true, payload: hex('d5d5') });
    expect(packet.serialize()).toEqual(hex('80 88 abcd 01020304 cafebabe d5d5'));
  });

  it('round-trips through parse', () => {
    const original = new RtpPacket({
      payloadType: 101,
      sequenceNumber: 65535,
      timestamp: 0xffffffff,
      ssrc: 1,
      csrcs: [2, 3],
      padding: 4,
      extension: { profile: 0x1000, data: hex('0102030405060708') },
      payload: hex('cafe'),
    });
    const copy = RtpPacket.parse(original.serialize());
    expect(copy).toEqual(original);
  });

  it('refuses out-of-range fields', () => {
    const base = { payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: Buffer.alloc(0) };
    expect(() => new RtpPacket({ ...base, payloadType: 128 })).toThrow(/payload type 128/);
    expect(() => new RtpPacket({ ...base, sequenceNumber: 65536 })).toThrow(/sequence number/);
    expect(() => new RtpPacket({ ...base, csrcs: new Array(16).fill(1) })).toThrow(/16 CSRCs/);
    expect(() => new RtpPacket({ ...base, extension: { profile: 1, data: Buffer.alloc(3) } })).toThrow(/32-bit words/);
  });
});

describe('isRtcp (RFC 5761 demultiplexing)', () => {
  it('classifies RTCP packet types 200..204 as RTCP and audio payload types as RTP', () => {
    for (const type of [200, 201, 202, 203, 204]) expect(isRtcp(Buffer.from([0x80, type, 0, 1]))).toBe(true);
    expect(isRtcp(hex('80 00 0001'))).toBe(false); // PCMU
    expect(isRtcp(hex('80 88 0001'))).toBe(false); // PCMA with marker
    expect(isRtcp(hex('80 e5 0001'))).toBe(false); // telephone-event 101 with marker
    expect(isRtcp(Buffer.from([0x80, 0x80 | 64]))).toBe(true);
    expect(isRtcp(Buffer.from([0x80, 0x80 | 95]))).toBe(true);
    expect(isRtcp(Buffer.from([0x80, 0x80 | 96]))).toBe(false);
    expect(isRtcp(Buffer.from([0x80, 0x80 | 63]))).toBe(false);
  });

  it('answers false for non-version-2 and tiny buffers', () => {
    expect(isRtcp(Buffer.from([0x40, 200]))).toBe(false);
    expect(isRtcp(Buffer.from([0x80]))).toBe(false);
  });
});

describe('sequence arithmetic', () => {
  it('measures signed distance across the 16-bit wrap', () => {
    expect(seqDistance(65535, 0)).toBe(1);
    expect(seqDistance(0, 65535)).toBe(-1);
    expect(seqDistance(100, 90)).toBe(-10);
    expect(seqDistance(65530, 5)).toBe(11);
    expect(seqDistance(7, 7)).toBe(0);
  });

  it('orders sequence numbers with wrap', () => {
    expect(seqNewer(0, 65535)).toBe(true);
    expect(seqNewer(65535, 0)).toBe(false);
    expect(seqNewer(10, 9)).toBe(true);
    expect(seqNewer(9, 9)).toBe(false);
    expect(seqNewer(40000, 1)).toBe(false); // more than half the circle back
  });

  it('adds with wrap', () => {
    expect(seqAdd(65535, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(65535);
  });
});
