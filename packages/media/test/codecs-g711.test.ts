import { describe, expect, it } from 'vitest';
import {
  ALAW_DECODE_TABLE,
  CODECS,
  PCMA,
  PCMU,
  ULAW_DECODE_TABLE,
  codecByName,
  codecByPayloadType,
  decodePcma,
  decodePcmu,
  encodePcma,
  encodePcmu,
} from '../src/codecs/index.js';

/** Every 16-bit input value, once. */
const ALL_SAMPLES = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

/** Inputs whose decoded value breaks `within`, or where decoding is not monotonic; empty when all is well. */
function outOfBounds(decoded: Int16Array, within: (x: number, error: number) => boolean): string[] {
  const violations: string[] = [];
  for (let i = 0; i < ALL_SAMPLES.length && violations.length < 5; i++) {
    const x = ALL_SAMPLES[i];
    if (!within(x, Math.abs(decoded[i] - x))) violations.push(`${x} -> ${decoded[i]}`);
    if (i > 0 && decoded[i] < decoded[i - 1]) violations.push(`not monotonic at ${x}`);
  }
  return violations;
}

describe('G.711 µ-law (PCMU)', () => {
  it('decodes reference codewords of the G.711 table', () => {
    const expected: [number, number][] = [
      [0x00, -32124], [0x01, -31100], [0x08, -23932], [0x10, -15996], [0x7e, -8], [0x7f, 0],
      [0x80, 32124], [0x81, 31100], [0x90, 15996], [0xfe, 8], [0xff, 0],
    ];
    for (const [code, value] of expected) expect([code, ULAW_DECODE_TABLE[code]]).toEqual([code, value]);
    expect([...ULAW_DECODE_TABLE.subarray(0, 8)]).toEqual([-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956]);
  });

  it('encodes zero as 0xFF and the extremes as 0x80 / 0x00', () => {
    expect([...encodePcmu(Int16Array.of(0, 32767, -32768, 32124, -32124))]).toEqual([0xff, 0x80, 0x00, 0x80, 0x00]);
  });

  it('re-encodes every decoded codeword to itself (0x7F, negative zero, becomes 0xFF)', () => {
    const codes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const again = encodePcmu(decodePcmu(codes));
    for (let code = 0; code < 256; code++) expect([code, again[code]]).toEqual([code, code === 0x7f ? 0xff : code]);
  });

  it('keeps the quantization error within half a step for every input', () => {
    const decoded = decodePcmu(encodePcmu(ALL_SAMPLES));
    const violations = outOfBounds(decoded, (x, error) =>
      // First segment: step 8. From 1024 up the step is 1/16 of the segment start: error ≲ 1/32.
      Math.abs(x) < 124 ? error <= 4 : Math.abs(x) < 1024 || error / Math.abs(x) <= 0.035,
    );
    expect(violations).toEqual([]);
  });
});

describe('G.711 A-law (PCMA)', () => {
  it('decodes reference codewords of the G.711 table', () => {
    const expected: [number, number][] = [
      [0xd5, 8], [0x55, -8], [0x2a, -32256], [0xaa, 32256], [0x00, -5504], [0x80, 5504],
      [0x40, -344], [0x50, -88], [0x54, -24], [0xd4, 24],
    ];
    for (const [code, value] of expected) expect([code, ALAW_DECODE_TABLE[code]]).toEqual([code, value]);
    expect([...ALAW_DECODE_TABLE.subarray(0, 8)]).toEqual([-5504, -5248, -6016, -5760, -4480, -4224, -4992, -4736]);
  });

  it('encodes zero as 0xD5 and the extremes as 0xAA / 0x2A', () => {
    expect([...encodePcma(Int16Array.of(0, 32767, -32768, -1))]).toEqual([0xd5, 0xaa, 0x2a, 0x55]);
  });

  it('re-encodes every decoded codeword to itself', () => {
    const codes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    expect([...encodePcma(decodePcma(codes))]).toEqual([...codes]);
  });

  it('keeps the quantization error within half a step for every input', () => {
    const decoded = decodePcma(encodePcma(ALL_SAMPLES));
    // Segments 0 and 1 share step 16; above, the step is 1/16 of the segment start: error ≤ 1/32.
    const violations = outOfBounds(decoded, (x, error) => (Math.abs(x) < 256 ? error <= 8 : error / Math.abs(x) <= 1 / 32));
    expect(violations).toEqual([]);
  });
});

describe('a 1004 Hz test tone through G.711', () => {
  const tone = Int16Array.from({ length: 8000 }, (_, n) => Math.round(10000 * Math.sin((2 * Math.PI * 1004 * n) / 8000 + 0.3)));
  const snrDb = (decoded: Int16Array): number => {
    let signal = 0;
    let noise = 0;
    for (let n = 0; n < tone.length; n++) {
      signal += tone[n] ** 2;
      noise += (tone[n] - decoded[n]) ** 2;
    }
    return 10 * Math.log10(signal / noise);
  };

  it('comes back with the ~37 dB SNR a logarithmic 8-bit law gives', () => {
    // 1004 Hz (not a divisor of 8000) visits many sample values; G.711 keeps SNR near 37 dB at this level.
    expect(snrDb(decodePcmu(encodePcmu(tone)))).toBeGreaterThan(35);
    expect(snrDb(decodePcma(encodePcma(tone)))).toBeGreaterThan(35);
  });
});

describe('codec registry', () => {
  it('describes PCMU and PCMA with their RFC 3551 static payload types', () => {
    expect(CODECS.map((c) => [c.name, c.payloadType, c.clockRate])).toEqual([['PCMU', 0, 8000], ['PCMA', 8, 8000]]);
    expect(PCMU.silenceByte).toBe(0xff);
    expect(PCMA.silenceByte).toBe(0xd5);
  });

  it('finds codecs by name (any case) and payload type', () => {
    expect(codecByName('pcmu')).toBe(PCMU);
    expect(codecByName('PCMA')).toBe(PCMA);
    expect(codecByName('opus')).toBeUndefined();
    expect(codecByPayloadType(0)).toBe(PCMU);
    expect(codecByPayloadType(8)).toBe(PCMA);
    expect(codecByPayloadType(18)).toBeUndefined();
  });

  it('encodes and decodes through the registry entries', () => {
    const samples = Int16Array.of(0, 1000, -1000);
    for (const codec of CODECS) {
      const payload = codec.encode(samples);
      expect(payload.length).toBe(3);
      expect([...codec.decode(payload)].map((v, i) => Math.abs(v - samples[i]) <= 32)).toEqual([true, true, true]);
    }
  });
});
