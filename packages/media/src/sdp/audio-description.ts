/**
 * Reads the one thing a plain RTP softphone needs from an SDP: where the peer's audio goes, in
 * which formats, and in which direction.
 */
import {
  SdpError,
  SessionDescription,
  directionOf,
  effectiveConnection,
  hasRtcpMux,
  isUnspecifiedAddress,
  rtcpAttribute,
  type SdpDirection,
  type SdpMediaSection,
} from './session-description.js';

/** One payload format of an m= line, with its name resolved from a=rtpmap or the static table. */
export interface SdpAudioFormat {
  payloadType: number;
  /** Encoding name as written (PCMU, telephone-event, ...). */
  name: string;
  clockRate: number;
  channels: number;
  /** The a=fmtp parameters of this payload type, if any. */
  fmtp?: string;
}

/** The audio stream an SDP describes. */
export interface AudioDescription {
  /** Index of the m=audio line among all m= lines. */
  mediaIndex: number;
  /** RTP/AVP or RTP/AVPF. */
  proto: string;
  /** Where RTP is to be sent: the media-level c= or else the session-level one. */
  address: string;
  /** 0 when the stream is disabled or rejected. */
  port: number;
  /** Where RTCP goes: a=rtcp (RFC 3605), the RTP port with rtcp-mux, else port + 1. */
  rtcpPort: number;
  rtcpMux: boolean;
  /** The m= line's payload types, in its order (preference order for an offer). */
  payloadTypes: number[];
  /** The payload types whose name is known (via a=rtpmap or RFC 3551's static table). */
  codecs: SdpAudioFormat[];
  /** The payload type of telephone-event/8000 (RFC 4733), when offered. */
  telephoneEventPayloadType?: number;
  direction: SdpDirection;
  /** The address is 0.0.0.0 or :: (RFC 2543 hold): nothing, RTP or RTCP, is to be sent to it. */
  hold: boolean;
  /** a=ptime in milliseconds, when given. */
  ptime?: number;
}

/** RFC 3551 table 4: audio payload types with a static meaning (name, clock rate, channels). */
const STATIC_AUDIO_TYPES: Readonly<Record<number, readonly [string, number, number]>> = {
  0: ['PCMU', 8000, 1],
  3: ['GSM', 8000, 1],
  4: ['G723', 8000, 1],
  5: ['DVI4', 8000, 1],
  6: ['DVI4', 16000, 1],
  7: ['LPC', 8000, 1],
  8: ['PCMA', 8000, 1],
  9: ['G722', 8000, 1],
  10: ['L16', 44100, 2],
  11: ['L16', 44100, 1],
  12: ['QCELP', 8000, 1],
  13: ['CN', 8000, 1],
  14: ['MPA', 90000, 1],
  15: ['G728', 8000, 1],
  16: ['DVI4', 11025, 1],
  17: ['DVI4', 22050, 1],
  18: ['G729', 8000, 1],
};

const PLAIN_RTP_PROTOS = /^RTP\/AVPF?$/i;

/** True when an m= line carries plain (unencrypted) RTP. */
export function isPlainRtp(section: SdpMediaSection): boolean {
  return PLAIN_RTP_PROTOS.test(section.proto);
}

/** The index of the m=audio line to use: the first plain-RTP one with a port, else the first plain-RTP one. */
export function audioSectionIndex(sdp: SessionDescription): number {
  const audio = sdp.media.map((section, index) => ({ section, index })).filter(({ section }) => section.media === 'audio');
  if (audio.length === 0) throw new SdpError('no m=audio line');
  const plain = audio.filter(({ section }) => isPlainRtp(section));
  if (plain.length === 0) throw new SdpError(`m=audio uses ${audio[0].section.proto}; only plain RTP (RTP/AVP) is supported`);
  return (plain.find(({ section }) => section.port !== 0) ?? plain[0]).index;
}

/** The named formats of an m= line, in its order. */
export function audioFormats(section: SdpMediaSection): SdpAudioFormat[] {
  const rtpmaps = new Map<number, string>();
  for (const value of section.attributes('rtpmap')) {
    const match = /^(\d+)\s+(.+)$/.exec(value.trim());
    if (match) rtpmaps.set(Number(match[1]), match[2]);
  }
  const fmtps = new Map<number, string>();
  for (const value of section.attributes('fmtp')) {
    const match = /^(\d+)\s+(.*)$/.exec(value.trim());
    if (match) fmtps.set(Number(match[1]), match[2]);
  }
  const formats: SdpAudioFormat[] = [];
  for (const text of section.formats) {
    if (!/^\d+$/.test(text)) continue;
    const payloadType = Number(text);
    const format = fromRtpmap(payloadType, rtpmaps.get(payloadType)) ?? fromStaticTable(payloadType);
    if (!format) continue;
    const fmtp = fmtps.get(payloadType);
    formats.push(fmtp === undefined ? format : { ...format, fmtp });
  }
  return formats;
}

/** Reads the audio stream of an SDP (the first plain-RTP m=audio). Throws SdpError when there is none. */
export function parseAudioDescription(input: string | Buffer | SessionDescription): AudioDescription {
  const sdp = input instanceof SessionDescription ? input : SessionDescription.parse(input);
  return describeAudioSection(sdp, audioSectionIndex(sdp));
}

/** Reads m= line `mediaIndex` of `sdp` as an audio stream. */
export function describeAudioSection(sdp: SessionDescription, mediaIndex: number): AudioDescription {
  const section = sdp.media[mediaIndex];
  if (section?.media !== 'audio') throw new SdpError(`media section ${mediaIndex} is ${section ? `m=${section.media}` : 'missing'}, not m=audio`);
  const address = effectiveConnection(sdp, mediaIndex)?.address ?? '0.0.0.0';
  const rtcpMux = hasRtcpMux(section);
  const codecs = audioFormats(section);
  const telephoneEvent = codecs.find((c) => c.name.toLowerCase() === 'telephone-event' && c.clockRate === 8000);
  const ptimeText = section.attributes('ptime')[0] ?? sdp.attributes('ptime')[0];
  const ptime = ptimeText === undefined ? NaN : Number(ptimeText.trim());
  const defaultRtcpPort = rtcpMux || section.port === 0 ? section.port : section.port + 1;
  return {
    mediaIndex,
    proto: section.proto,
    address,
    port: section.port,
    rtcpPort: rtcpAttribute(section)?.port ?? defaultRtcpPort,
    rtcpMux,
    payloadTypes: section.formats.filter((f) => /^\d+$/.test(f)).map(Number),
    codecs,
    ...(telephoneEvent ? { telephoneEventPayloadType: telephoneEvent.payloadType } : {}),
    direction: directionOf(sdp, mediaIndex),
    hold: isUnspecifiedAddress(address),
    ...(ptime > 0 ? { ptime } : {}),
  };
}

function fromRtpmap(payloadType: number, rtpmap: string | undefined): SdpAudioFormat | undefined {
  if (rtpmap === undefined) return undefined;
  const [name, clock, channels] = rtpmap.trim().split('/');
  const clockRate = Number(clock);
  if (!name || !(clockRate > 0)) return undefined;
  return { payloadType, name, clockRate, channels: channels === undefined ? 1 : Number(channels) || 1 };
}

function fromStaticTable(payloadType: number): SdpAudioFormat | undefined {
  const entry = STATIC_AUDIO_TYPES[payloadType];
  return entry && { payloadType, name: entry[0], clockRate: entry[1], channels: entry[2] };
}
