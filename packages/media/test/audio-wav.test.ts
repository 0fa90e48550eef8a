import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WavError, decodeWav, encodeWav, readWav, writeWav } from '../src/audio/index.js';

/** Bytes from a hex string with spaces, for headers written out by hand. */
const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const ascii = (text: string) => Buffer.from(text, 'latin1');

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

function chunk(id: string, body: Buffer): Buffer {
  return Buffer.concat([ascii(id), u32(body.length), body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** A fmt body: tag, channels, rate, byte rate, block align, bits, then any extension. */
function fmtBody(tag: number, channels: number, rate: number, bits: number, extension: Buffer = Buffer.alloc(0)): Buffer {
  const align = (channels * bits) / 8;
  return Buffer.concat([u16(tag), u16(channels), u32(rate), u32(rate * align), u16(align), u16(bits), extension]);
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([ascii('WAVE'), ...chunks]);
  return Buffer.concat([ascii('RIFF'), u32(body.length), body]);
}

const PCM_GUID_TAIL = hex('0000 1000 8000 00aa 0038 9b71');

describe('encodeWav', () => {
  it('writes the canonical 44-byte header byte for byte', () => {
    const wav = encodeWav(Int16Array.from([0, 1, -1, 32767]));
    expect(wav.toString('hex')).toBe(
      hex(`
        52494646 2c000000 57415645
        666d7420 10000000 0100 0100 401f0000 803e0000 0200 1000
        64617461 08000000 0000 0100 ffff ff7f
      `).toString('hex'),
    );
  });

  it('writes rate, byte rate and block align for 16 kHz stereo', () => {
    const wav = encodeWav(Int16Array.from([1, 2, 3, 4]), { sampleRate: 16000, channels: 2 });
    // 16000 = 0x3e80; byte rate 16000 × 2 channels × 2 bytes = 64000 = 0xfa00; block align 4.
    expect(wav.subarray(22, 36).toString('hex')).toBe('0200803e000000fa000004001000');
    expect(wav.length).toBe(44 + 8);
  });

  it('refuses samples that are not whole frames, and impossible formats', () => {
    expect(() => encodeWav(Int16Array.from([1, 2, 3]), { channels: 2 })).toThrow(/3 samples are not whole frames of 2 channels/);
    expect(() => encodeWav(new Int16Array(2), { sampleRate: 0 })).toThrow(WavError);
    expect(() => encodeWav(new Int16Array(2), { channels: 0 })).toThrow(/channel count 0/);
  });
});

describe('decodeWav', () => {
  const samples = Int16Array.from([0, 100, -100, 32767, -32768, 12345]);

  it('round-trips mono and stereo', () => {
    expect(decodeWav(encodeWav(samples))).toEqual({ sampleRate: 8000, channels: 1, samples });
    expect(decodeWav(encodeWav(samples, { sampleRate: 44100, channels: 2 }))).toEqual({ sampleRate: 44100, channels: 2, samples });
  });

  it('mixes stereo down to mono on request', () => {
    const stereo = encodeWav(Int16Array.from([100, 300, -32768, -32768, 1, 2]), { channels: 2 });
    expect(decodeWav(stereo, { mono: true })).toEqual({ sampleRate: 8000, channels: 1, samples: Int16Array.from([200, -32768, 2]) });
  });

  it('skips LIST and other chunks, odd-sized ones with their pad byte, and an 18-byte fmt', () => {
    const data = Buffer.from(samples.buffer.slice(0));
    const file = riff(
      chunk('fmt ', fmtBody(1, 1, 16000, 16, u16(0))),
      chunk('LIST', Buffer.concat([ascii('INFOISFT'), u32(5), ascii('lab\0\0')]).subarray(0, 17)),
      chunk('fact', u32(6)),
      chunk('data', data),
      chunk('id3 ', ascii('trailing')),
    );
    expect(decodeWav(file)).toEqual({ sampleRate: 16000, channels: 1, samples });
  });

  it('accepts WAVE_FORMAT_EXTENSIBLE with the PCM subformat', () => {
    const extension = Buffer.concat([u16(22), u16(16), u32(0x3), u32(1), PCM_GUID_TAIL]);
    const file = riff(chunk('fmt ', fmtBody(0xfffe, 2, 48000, 16, extension)), chunk('data', Buffer.from(samples.buffer.slice(0))));
    expect(decodeWav(file)).toEqual({ sampleRate: 48000, channels: 2, samples });
  });

  it('reads a data chunk of unknown length (0xffffffff, written to a pipe) to the end of the file', () => {
    const file = encodeWav(samples);
    file.writeUInt32LE(0xffffffff, 40);
    expect(decodeWav(file).samples).toEqual(samples);
  });

  const pcm = chunk('data', Buffer.alloc(8));
  it.each([
    ['8-bit PCM', riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), pcm), 'WAV: 8-bit PCM is not supported; convert to 16-bit PCM'],
    ['24-bit PCM', riff(chunk('fmt ', fmtBody(1, 1, 8000, 24)), chunk('data', Buffer.alloc(6))), 'WAV: 24-bit PCM is not supported; convert to 16-bit PCM'],
    ['IEEE float', riff(chunk('fmt ', fmtBody(3, 1, 8000, 32)), pcm), 'WAV: IEEE float is not supported; convert to 16-bit PCM'],
    ['µ-law', riff(chunk('fmt ', fmtBody(7, 1, 8000, 8)), pcm), 'WAV: G.711 µ-law is not supported; convert to 16-bit PCM'],
    ['an unknown format', riff(chunk('fmt ', fmtBody(0x1234, 1, 8000, 16)), pcm), 'WAV: format 0x1234 is not supported; convert to 16-bit PCM'],
    [
      'an extensible float',
      riff(chunk('fmt ', fmtBody(0xfffe, 1, 8000, 32, Buffer.concat([u16(22), u16(32), u32(4), u32(3), PCM_GUID_TAIL]))), pcm),
      'WAV: IEEE float is not supported; convert to 16-bit PCM',
    ],
    ['a non-RIFF file', Buffer.concat([ascii('OggS'), Buffer.alloc(40)]), 'WAV: not a RIFF file (starts with "OggS" instead of "RIFF")'],
    ['a RIFF of another form', Buffer.concat([ascii('RIFF'), u32(4), ascii('AVI ')]), 'WAV: RIFF form is "AVI ", not "WAVE"'],
    ['a file too short for a header', ascii('RIFF'), 'WAV: 4 bytes are too short for a RIFF header (12 bytes)'],
    ['data before fmt', riff(pcm, chunk('fmt ', fmtBody(1, 1, 8000, 16))), 'WAV: the data chunk comes before any fmt chunk'],
    ['no data chunk', riff(chunk('fmt ', fmtBody(1, 1, 8000, 16))), 'WAV: no data chunk'],
    ['a short fmt chunk', riff(chunk('fmt ', Buffer.alloc(14)), pcm), 'WAV: the fmt chunk is 14 bytes, shorter than the 16 of PCMWAVEFORMAT'],
    ['a truncated data chunk', encodeWav(new Int16Array(100)).subarray(0, 44 + 150), 'WAV: truncated: the data chunk says 200 bytes but only 150 follow'],
    ['half a sample frame', riff(chunk('fmt ', fmtBody(1, 2, 8000, 16)), chunk('data', Buffer.alloc(6))), /not a whole number of 4-byte sample frames/],
    ['a truncated chunk before data', riff(chunk('fmt ', fmtBody(1, 1, 8000, 16))).subarray(0, 30), /truncated: the "fmt " chunk at byte 12 says 16 bytes but only 10 follow/],
  ])('refuses %s with a clear WavError', (_name, file, message) => {
    expect(() => decodeWav(file)).toThrow(WavError);
    expect(() => decodeWav(file)).toThrow(message);
  });
});

describe('readWav / writeWav', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'psi-media-wav-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('writes a file that reads back the same', async () => {
    const file = join(dir, 'round.wav');
    const samples = Int16Array.from({ length: 1000 }, (_, i) => (i * 37) % 65536 - 32768);
    await writeWav(file, samples, { sampleRate: 16000 });
    expect((await readFile(file)).length).toBe(44 + 2000);
    expect(await readWav(file)).toEqual({ sampleRate: 16000, channels: 1, samples });
  });

  it('names the file in its errors', async () => {
    const file = join(dir, 'eight-bit.wav');
    await writeFile(file, riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Buffer.alloc(4))));
    await expect(readWav(file)).rejects.toThrow(`WAV ${file}: 8-bit PCM is not supported; convert to 16-bit PCM`);
    await expect(readWav(file)).rejects.toMatchObject({ name: 'WavError', file });
  });
});
