import { decodePcma, decodePcmu, encodePcma, encodePcmu, linearToAlaw, linearToUlaw } from './g711.js';

/** An 8 kHz mono audio codec with a static RTP payload type (RFC 3551 table 4). */
export interface AudioCodec {
  /** Encoding name as in SDP a=rtpmap. */
  readonly name: 'PCMU' | 'PCMA';
  readonly payloadType: 0 | 8;
  readonly clockRate: 8000;
  /** The codeword for digital silence, for filling lost frames without decoding. */
  readonly silenceByte: number;
  encode(samples: Int16Array): Buffer;
  decode(payload: Uint8Array): Int16Array;
}

/** G.711 µ-law, RTP payload type 0. */
export const PCMU: AudioCodec = Object.freeze({
  name: 'PCMU',
  payloadType: 0,
  clockRate: 8000,
  silenceByte: linearToUlaw(0),
  encode: encodePcmu,
  decode: decodePcmu,
});

/** G.711 A-law, RTP payload type 8. */
export const PCMA: AudioCodec = Object.freeze({
  name: 'PCMA',
  payloadType: 8,
  clockRate: 8000,
  silenceByte: linearToAlaw(0),
  encode: encodePcma,
  decode: decodePcma,
});

/** Every codec this package implements, in our order of preference. */
export const CODECS: readonly AudioCodec[] = Object.freeze([PCMU, PCMA]);

/** Looks a codec up by its SDP encoding name, case-insensitively ('pcmu' finds PCMU). */
export function codecByName(name: string): AudioCodec | undefined {
  const wanted = name.toUpperCase();
  return CODECS.find((codec) => codec.name === wanted);
}

/** Looks a codec up by its static RTP payload type. */
export function codecByPayloadType(payloadType: number): AudioCodec | undefined {
  return CODECS.find((codec) => codec.payloadType === payloadType);
}
