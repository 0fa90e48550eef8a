/**
 * ITU-T G.711 companding between 16-bit linear PCM and 8-bit µ-law (PCMU) or A-law (PCMA).
 *
 * Both laws split the magnitude into 8 segments of 16 steps each; a codeword is
 * sign | segment(3) | step(4). µ-law works on magnitude + 132 (so its segments are pure
 * powers of two) and inverts all bits on the wire; A-law works on the 13 high bits and
 * inverts every even bit (XOR 0x55). Decoding returns the middle of the step, so decoding
 * then re-encoding any codeword gives it back.
 */

const ULAW_BIAS = 0x84;
/** Largest magnitude µ-law can take before the biased value overflows 15 bits. */
const ULAW_CLIP = 32635;
const ALAW_MAX_13BIT = 0x0fff;

/** Index of the highest set bit (value > 0). */
function highestBit(value: number): number {
  return 31 - Math.clz32(value);
}

/** Encodes one 16-bit linear sample to a µ-law codeword. */
export function linearToUlaw(sample: number): number {
  const sign = sample < 0 ? 0x80 : 0;
  const biased = Math.min(Math.abs(sample), ULAW_CLIP) + ULAW_BIAS;
  const segment = highestBit(biased) - 7;
  const step = (biased >> (segment + 3)) & 0x0f;
  return ~(sign | (segment << 4) | step) & 0xff;
}

function ulawToLinearComputed(code: number): number {
  const bits = ~code & 0xff;
  const segment = (bits >> 4) & 0x07;
  const step = bits & 0x0f;
  const magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
  return bits & 0x80 ? -magnitude : magnitude;
}

/** Encodes one 16-bit linear sample to an A-law codeword. */
export function linearToAlaw(sample: number): number {
  // A-law's sign bit is set for positive values (before the even-bit inversion).
  const sign = sample >= 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(sample) >> 3, ALAW_MAX_13BIT);
  let segment: number;
  let step: number;
  if (magnitude < 32) {
    segment = 0;
    step = magnitude >> 1;
  } else {
    segment = highestBit(magnitude) - 4;
    step = (magnitude >> segment) & 0x0f;
  }
  return (sign | (segment << 4) | step) ^ 0x55;
}

function alawToLinearComputed(code: number): number {
  const bits = code ^ 0x55;
  const segment = (bits >> 4) & 0x07;
  const step = bits & 0x0f;
  const magnitude = segment === 0 ? (step << 4) + 8 : ((step << 4) + 0x108) << (segment - 1);
  return bits & 0x80 ? magnitude : -magnitude;
}

function buildTable(decode: (code: number) => number): Int16Array {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) table[code] = decode(code);
  return table;
}

/** µ-law codeword → 16-bit linear, for all 256 codewords. */
export const ULAW_DECODE_TABLE: Readonly<Int16Array> = buildTable(ulawToLinearComputed);
/** A-law codeword → 16-bit linear, for all 256 codewords. */
export const ALAW_DECODE_TABLE: Readonly<Int16Array> = buildTable(alawToLinearComputed);

/** Decodes one µ-law codeword. */
export function ulawToLinear(code: number): number {
  return ULAW_DECODE_TABLE[code & 0xff];
}

/** Decodes one A-law codeword. */
export function alawToLinear(code: number): number {
  return ALAW_DECODE_TABLE[code & 0xff];
}

/** Encodes 16-bit linear PCM to µ-law (PCMU), one octet per sample. */
export function encodePcmu(samples: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToUlaw(samples[i]);
  return out;
}

/** Decodes µ-law (PCMU) octets to 16-bit linear PCM. */
export function decodePcmu(buf: Uint8Array): Int16Array {
  const out = new Int16Array(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = ULAW_DECODE_TABLE[buf[i]];
  return out;
}

/** Encodes 16-bit linear PCM to A-law (PCMA), one octet per sample. */
export function encodePcma(samples: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = linearToAlaw(samples[i]);
  return out;
}

/** Decodes A-law (PCMA) octets to 16-bit linear PCM. */
export function decodePcma(buf: Uint8Array): Int16Array {
  const out = new Int16Array(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = ALAW_DECODE_TABLE[buf[i]];
  return out;
}
