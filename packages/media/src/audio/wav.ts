/**
 * WAV (RIFF WAVE) files of 16-bit linear PCM: what prompts are recorded as and what call
 * recordings are written as. Only 16-bit PCM is read; anything else is refused with a message
 * that says what the file is and what to convert it to.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { TELEPHONY_SAMPLE_RATE } from './frame-source.js';
import { mixToMono } from './resample.js';

/** A WAV file that cannot be read or written: the message says what is wrong, and in which file when known. */
export class WavError extends Error {
  override readonly name = 'WavError';

  constructor(message: string, readonly file?: string) {
    super(file === undefined ? `WAV: ${message}` : `WAV ${file}: ${message}`);
  }
}

export interface WavFormatOptions {
  /** Samples per second per channel; default 8000. */
  sampleRate?: number;
  /** Interleaved channels in `samples`; default 1. */
  channels?: number;
}

export interface DecodeWavOptions {
  /** Average all channels into one; `channels` of the result is then 1. */
  mono?: boolean;
}

/** Decoded audio: interleaved 16-bit samples (frame by frame, one sample per channel). */
export interface DecodedWav {
  sampleRate: number;
  channels: number;
  samples: Int16Array;
}

const HEADER_BYTES = 44;
const FORMAT_PCM = 0x0001;
const FORMAT_EXTENSIBLE = 0xfffe;
/** The bytes of a WAVE_FORMAT_EXTENSIBLE SubFormat GUID after its first four (the format code). */
const SUBFORMAT_GUID_TAIL = Buffer.from([0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]);
/** Writers that stream to a pipe put this in the data size, since they do not know the length yet. */
const UNKNOWN_SIZE = 0xffffffff;

const FORMAT_NAMES: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0003: 'IEEE float',
  0x0006: 'G.711 A-law',
  0x0007: 'G.711 µ-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0055: 'MPEG layer 3',
};

/** A complete WAV file (canonical 44-byte header, then the samples little-endian). */
export function encodeWav(samples: Int16Array, options: WavFormatOptions = {}): Buffer {
  const sampleRate = options.sampleRate ?? TELEPHONY_SAMPLE_RATE;
  const channels = options.channels ?? 1;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xffffffff) throw new WavError(`sample rate ${sampleRate} is not a positive 32-bit integer`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) throw new WavError(`channel count ${channels} is not 1–65535`);
  if (samples.length % channels !== 0) throw new WavError(`${samples.length} samples are not whole frames of ${channels} channels`);
  const dataBytes = samples.length * 2;
  if (dataBytes > UNKNOWN_SIZE - (HEADER_BYTES - 8)) throw new WavError(`${dataBytes} bytes of audio do not fit a RIFF file (4 GiB)`);

  const out = Buffer.alloc(HEADER_BYTES + dataBytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(HEADER_BYTES - 8 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  out.writeUInt32LE(sampleRate * channels * 2, 28);
  out.writeUInt16LE(channels * 2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i], HEADER_BYTES + i * 2);
  return out;
}

interface PcmFormat {
  channels: number;
  sampleRate: number;
  blockAlign: number;
}

/**
 * Reads a WAV file held in memory. Accepts 16-bit PCM, plain or WAVE_FORMAT_EXTENSIBLE with the
 * PCM subformat; skips chunks it does not need (LIST, fact, cue, ...). Throws WavError otherwise.
 */
export function decodeWav(input: Uint8Array, options: DecodeWavOptions = {}): DecodedWav {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.length < 12) throw new WavError(`${buf.length} bytes are too short for a RIFF header (12 bytes)`);
  const riff = buf.toString('latin1', 0, 4);
  if (riff === 'RIFX' || riff === 'RF64') throw new WavError(`"${riff}" files are not supported; save as a plain little-endian RIFF WAV`);
  if (riff !== 'RIFF') throw new WavError(`not a RIFF file (starts with ${JSON.stringify(riff)} instead of "RIFF")`);
  const form = buf.toString('latin1', 8, 12);
  if (form !== 'WAVE') throw new WavError(`RIFF form is ${JSON.stringify(form)}, not "WAVE"`);

  let format: PcmFormat | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'data') {
      if (!format) throw new WavError('the data chunk comes before any fmt chunk');
      const available = buf.length - body;
      if (size !== UNKNOWN_SIZE && size > available) {
        throw new WavError(`truncated: the data chunk says ${size} bytes but only ${available} follow`);
      }
      const length = size === UNKNOWN_SIZE ? available - (available % format.blockAlign) : size;
      return toDecoded(buf.subarray(body, body + length), format, options);
    }
    if (body + size > buf.length) throw new WavError(`truncated: the "${id}" chunk at byte ${offset} says ${size} bytes but only ${buf.length - body} follow`);
    if (id === 'fmt ') format = parseFormat(buf.subarray(body, body + size));
    // Chunks are word-aligned: an odd-sized one is followed by a pad byte.
    offset = body + size + (size & 1);
  }
  throw new WavError(format ? 'no data chunk' : 'no fmt chunk and no data chunk');
}

function parseFormat(fmt: Buffer): PcmFormat {
  if (fmt.length < 16) throw new WavError(`the fmt chunk is ${fmt.length} bytes, shorter than the 16 of PCMWAVEFORMAT`);
  let tag = fmt.readUInt16LE(0);
  const channels = fmt.readUInt16LE(2);
  const sampleRate = fmt.readUInt32LE(4);
  const blockAlign = fmt.readUInt16LE(12);
  const bits = fmt.readUInt16LE(14);
  if (tag === FORMAT_EXTENSIBLE) {
    if (fmt.length < 40) throw new WavError(`the WAVE_FORMAT_EXTENSIBLE fmt chunk is ${fmt.length} bytes, shorter than 40`);
    const validBits = fmt.readUInt16LE(18);
    if (!fmt.subarray(28, 40).equals(SUBFORMAT_GUID_TAIL)) throw new WavError('WAVE_FORMAT_EXTENSIBLE with an unknown SubFormat GUID; convert to 16-bit PCM');
    tag = fmt.readUInt32LE(24);
    if (tag === FORMAT_PCM && validBits !== 0 && validBits !== bits) {
      throw new WavError(`${validBits}-bit samples in ${bits}-bit containers are not supported; convert to 16-bit PCM`);
    }
  }
  if (tag !== FORMAT_PCM) {
    const name = FORMAT_NAMES[tag] ?? `format 0x${tag.toString(16).padStart(4, '0')}`;
    throw new WavError(`${name} is not supported; convert to 16-bit PCM`);
  }
  if (bits !== 16) throw new WavError(`${bits}-bit PCM is not supported; convert to 16-bit PCM`);
  if (channels === 0) throw new WavError('the fmt chunk says 0 channels');
  if (sampleRate === 0) throw new WavError('the fmt chunk says a sample rate of 0 Hz');
  if (blockAlign !== channels * 2) throw new WavError(`block align ${blockAlign} does not match ${channels} channel(s) of 16 bits (${channels * 2})`);
  return { channels, sampleRate, blockAlign };
}

function toDecoded(data: Buffer, format: PcmFormat, options: DecodeWavOptions): DecodedWav {
  if (data.length % format.blockAlign !== 0) {
    throw new WavError(`truncated: the data chunk of ${data.length} bytes is not a whole number of ${format.blockAlign}-byte sample frames`);
  }
  const samples = new Int16Array(data.length / 2);
  for (let i = 0; i < samples.length; i++) samples[i] = data.readInt16LE(i * 2);
  if (options.mono && format.channels > 1) {
    return { sampleRate: format.sampleRate, channels: 1, samples: mixToMono(samples, format.channels) };
  }
  return { sampleRate: format.sampleRate, channels: format.channels, samples };
}

/** Writes `samples` as a 16-bit PCM WAV file. */
export async function writeWav(file: string, samples: Int16Array, options: WavFormatOptions = {}): Promise<void> {
  await writeFile(file, encodeWav(samples, options));
}

/** Reads a 16-bit PCM WAV file; errors name the file. */
export async function readWav(file: string, options: DecodeWavOptions = {}): Promise<DecodedWav> {
  const buf = await readFile(file);
  try {
    return decodeWav(buf, options);
  } catch (error) {
    if (error instanceof WavError) throw new WavError(error.message.replace(/^WAV: /, ''), file);
    throw error;
  }
}
