/**
 * RFC 3264 offer/answer for one plain RTP audio stream with G.711 and RFC 4733 telephone-events:
 * what a softphone sends in an INVITE or a 200 OK, and what it concludes from the other side's.
 */
import { randomInt } from 'node:crypto';
import type { AudioCodec } from '../codecs/index.js';
import { describeAudioSection, parseAudioDescription, type AudioDescription, type SdpAudioFormat } from './audio-description.js';
import { SdpError, SessionDescription, addressType, type SdpDirection } from './session-description.js';

/** The G.711 codecs this package can negotiate, by SDP encoding name. */
export type G711CodecName = AudioCodec['name'];

/** Static payload types of RFC 3551. */
const STATIC_PAYLOAD_TYPES: Readonly<Record<G711CodecName, number>> = { PCMU: 0, PCMA: 8 };
const DEFAULT_CODECS: readonly G711CodecName[] = ['PCMU', 'PCMA'];
/** DTMF digits 0-9, *, #, A-D (events 0-15) and flash (16), as most phones offer. */
const TELEPHONE_EVENTS = '0-16';

interface SessionOptions {
  /** Our RTP address (IPv4 or IPv6), put in o= and c=. */
  address: string;
  /** Our RTP port; RTCP is on port + 1. */
  port: number;
  /** o= session id; default random. Keep it across re-offers of one session. */
  sessionId?: string | number;
  /** o= session version; default the session id. Increment it with each new offer or answer. */
  sessionVersion?: string | number;
  /** o= username; default '-'. */
  username?: string;
  /** Our direction; default 'sendrecv' ('sendonly' puts the other side on hold). */
  direction?: SdpDirection;
  /** a=ptime in milliseconds; default 20, 0 leaves the line out. */
  ptime?: number;
}

export interface AudioOfferOptions extends SessionOptions {
  /** Codecs in our order of preference; default ['PCMU', 'PCMA']. */
  codecs?: readonly G711CodecName[];
  /** Offer RFC 4733 telephone-events at this dynamic payload type (96–127; 101 is customary). */
  telephoneEvent?: { payloadType?: number };
}

export interface AudioAnswerOptions extends SessionOptions {
  /** Codecs we accept, in our order of preference; default ['PCMU', 'PCMA']. */
  codecs?: readonly G711CodecName[];
  /** Accept telephone-events when offered; default true. */
  telephoneEvent?: boolean;
}

/** Where to send to. */
export interface RemoteAudio {
  address: string;
  port: number;
  rtcpPort: number;
}

/** A usable audio stream, from our point of view. */
export interface NegotiatedAudio {
  accepted: true;
  codec: G711CodecName;
  /** The payload type to send `codec` with (the offerer's number). */
  payloadType: number;
  /** The payload type of telephone-events, when both sides have them. */
  telephoneEventPayloadType?: number;
  /** Our direction: 'sendrecv' = we send and receive, 'recvonly' = we only listen, ... */
  direction: SdpDirection;
  remote: RemoteAudio;
  /** The other side's a=ptime, when given. */
  remotePtime?: number;
}

/** No audio stream: disabled, or no codec in common. */
export interface RejectedAudio {
  accepted: false;
  reason: string;
  remote?: RemoteAudio;
}

/** Our answer SDP and what it settles. */
export type AudioAnswer = (NegotiatedAudio | RejectedAudio) & { sdp: string };

/** An SDP offer for one audio stream: m=audio with our codecs (and telephone-event), a=ptime, a direction. */
export function createAudioOffer(options: AudioOfferOptions): string {
  const codecs = options.codecs ?? DEFAULT_CODECS;
  if (codecs.length === 0) throw new RangeError('audio offer: no codec to offer');
  const payloadTypes = codecs.map((name) => STATIC_PAYLOAD_TYPES[name]);
  const lines = codecs.map((name) => `a=rtpmap:${STATIC_PAYLOAD_TYPES[name]} ${name}/8000`);
  if (options.telephoneEvent) {
    const pt = options.telephoneEvent.payloadType ?? 101;
    if (!Number.isInteger(pt) || pt < 96 || pt > 127) throw new RangeError(`audio offer: telephone-event payload type ${pt} is not a dynamic type (96–127)`);
    payloadTypes.push(pt);
    lines.push(`a=rtpmap:${pt} telephone-event/8000`, `a=fmtp:${pt} ${TELEPHONE_EVENTS}`);
  }
  return sessionText(options, undefined, [`m=audio ${checkedPort(options.port)} RTP/AVP ${payloadTypes.join(' ')}`, ...lines, ...tailLines(options, options.direction ?? 'sendrecv')]);
}

/**
 * Answers an offer (RFC 3264 §6): every m= line of the offer gets one in the answer, in order.
 * The first plain-RTP audio line is accepted with the offer's payload type numbers for the
 * codecs we share, in our preference order (plus telephone-event when both want it); every
 * other line is refused with port 0. The direction mirrors the offer's: an offer that only
 * sends (hold) gets recvonly, an inactive one inactive, and c=0.0.0.0 (RFC 2543 hold) means
 * we must not send. With no codec in common the audio line gets port 0 and `accepted` is
 * false (a SIP UAS would rather answer 488 Not Acceptable Here).
 */
export function createAudioAnswer(offer: string | Buffer | SessionDescription, options: AudioAnswerOptions): AudioAnswer {
  const offerSdp = offer instanceof SessionDescription ? offer : SessionDescription.parse(offer);
  const remoteAudio = parseAudioDescription(offerSdp);
  const remote = { address: remoteAudio.address, port: remoteAudio.port, rtcpPort: remoteAudio.rtcpPort };
  const shared = sharedCodecs(remoteAudio.codecs, options.codecs ?? DEFAULT_CODECS);
  const telephoneEvent = (options.telephoneEvent ?? true) ? remoteAudio.telephoneEventPayloadType : undefined;
  const direction = combineDirections(options.direction ?? 'sendrecv', remoteAudio);
  const timing = offerSdp.sessionLines.find((l) => l.type === 't');
  const eventFormat = remoteAudio.codecs.find((c) => c.payloadType === telephoneEvent);
  const answerFormats = eventFormat ? [...shared, eventFormat] : shared;

  const mLines: string[] = [];
  offerSdp.media.forEach((section, index) => {
    if (index !== remoteAudio.mediaIndex || shared.length === 0 || remoteAudio.port === 0) {
      mLines.push(`m=${section.media} 0 ${section.proto} ${section.formats.join(' ')}`);
      return;
    }
    mLines.push(`m=audio ${checkedPort(options.port)} ${section.proto} ${answerFormats.map((f) => f.payloadType).join(' ')}`);
    for (const format of answerFormats) mLines.push(`a=rtpmap:${format.payloadType} ${format.name}/${format.clockRate}`);
    if (telephoneEvent !== undefined) mLines.push(`a=fmtp:${telephoneEvent} ${TELEPHONE_EVENTS}`);
    mLines.push(...tailLines(options, direction));
  });
  const sdp = sessionText(options, timing?.value, mLines);

  if (remoteAudio.port === 0) return { sdp, accepted: false, reason: 'the offer disables its audio stream (port 0)', remote };
  if (shared.length === 0) {
    const offered = remoteAudio.codecs.map((c) => `${c.name}/${c.clockRate}`).join(', ') || remoteAudio.payloadTypes.join(' ');
    return { sdp, accepted: false, reason: `no codec in common: the offer has ${offered}, we take ${(options.codecs ?? DEFAULT_CODECS).join(', ')}`, remote };
  }
  return {
    sdp,
    accepted: true,
    codec: codecName(shared[0])!,
    payloadType: shared[0].payloadType,
    ...(telephoneEvent !== undefined ? { telephoneEventPayloadType: telephoneEvent } : {}),
    direction,
    remote,
    ...(remoteAudio.ptime !== undefined ? { remotePtime: remoteAudio.ptime } : {}),
  };
}

/**
 * What our offer and the answer to it settle, for the offerer: the codec is the first format of
 * the answer that we offered and support; the direction is ours (an answer that is recvonly
 * means we send only; c=0.0.0.0 in the answer means we must not send).
 */
export function negotiatedFromAnswer(offerWeSent: string | Buffer | SessionDescription, answer: string | Buffer | SessionDescription): NegotiatedAudio | RejectedAudio {
  const ours = parseAudioDescription(offerWeSent);
  const answerSdp = answer instanceof SessionDescription ? answer : SessionDescription.parse(answer);
  // RFC 3264 §6: the answer has the offer's m= lines in the offer's order.
  if (answerSdp.media.length <= ours.mediaIndex) {
    throw new SdpError(`the answer has ${answerSdp.media.length} media section(s); the offer's audio is media section ${ours.mediaIndex}`);
  }
  const theirs = describeAudioSection(answerSdp, ours.mediaIndex);
  const remote = { address: theirs.address, port: theirs.port, rtcpPort: theirs.rtcpPort };
  if (theirs.port === 0) return { accepted: false, reason: 'the answer rejects the audio stream (port 0)', remote };

  const offeredTypes = new Set(ours.payloadTypes);
  const chosen = theirs.codecs.find((c) => offeredTypes.has(c.payloadType) && codecName(c) !== undefined);
  if (!chosen) {
    return { accepted: false, reason: `the answer has no codec we offered (answer formats: ${theirs.payloadTypes.join(' ')})`, remote };
  }
  const telephoneEvent = ours.telephoneEventPayloadType !== undefined && theirs.telephoneEventPayloadType === ours.telephoneEventPayloadType
    ? ours.telephoneEventPayloadType
    : undefined;
  return {
    accepted: true,
    codec: codecName(chosen)!,
    payloadType: chosen.payloadType,
    ...(telephoneEvent !== undefined ? { telephoneEventPayloadType: telephoneEvent } : {}),
    direction: combineDirections(ours.direction, theirs),
    remote,
    ...(theirs.ptime !== undefined ? { remotePtime: theirs.ptime } : {}),
  };
}

/** Our direction given what we want and what the other side's SDP says about itself. */
function combineDirections(wanted: SdpDirection, remote: Pick<AudioDescription, 'direction' | 'hold'>): SdpDirection {
  // We may send only if they receive (and gave an address to send to); we receive only if they send.
  const send = sends(wanted) && receives(remote.direction) && !remote.hold;
  const receive = receives(wanted) && sends(remote.direction);
  return send ? (receive ? 'sendrecv' : 'sendonly') : receive ? 'recvonly' : 'inactive';
}

function sends(direction: SdpDirection): boolean {
  return direction === 'sendrecv' || direction === 'sendonly';
}

function receives(direction: SdpDirection): boolean {
  return direction === 'sendrecv' || direction === 'recvonly';
}

/** The offer's formats that are one of our codecs, in our order of preference. */
function sharedCodecs(offered: readonly SdpAudioFormat[], ours: readonly G711CodecName[]): SdpAudioFormat[] {
  const shared: SdpAudioFormat[] = [];
  for (const name of ours) {
    const match = offered.find((format) => codecName(format) === name);
    if (match) shared.push(match);
  }
  return shared;
}

/** PCMU or PCMA when the format is one of them (any payload type number, 8 kHz mono), else undefined. */
function codecName(format: SdpAudioFormat): G711CodecName | undefined {
  const name = format.name.toUpperCase();
  return (name === 'PCMU' || name === 'PCMA') && format.clockRate === 8000 && format.channels === 1 ? name : undefined;
}

function sessionText(options: SessionOptions, timing: string | undefined, mediaLines: string[]): string {
  const sessionId = String(options.sessionId ?? randomInt(1, 2 ** 47));
  const sessionVersion = String(options.sessionVersion ?? sessionId);
  const username = options.username ?? '-';
  if (!/^\d+$/.test(sessionId) || !/^\d+$/.test(sessionVersion)) throw new RangeError(`SDP: o= session id and version must be numeric, got "${sessionId}" "${sessionVersion}"`);
  if (/\s/.test(username) || username === '') throw new RangeError(`SDP: o= username "${username}" must be non-empty without spaces`);
  const addrType = addressType(options.address);
  const lines = ['v=0', `o=${username} ${sessionId} ${sessionVersion} IN ${addrType} ${options.address}`, 's=-', `c=IN ${addrType} ${options.address}`, `t=${timing ?? '0 0'}`, ...mediaLines];
  return `${lines.join('\r\n')}\r\n`;
}

function tailLines(options: SessionOptions, direction: SdpDirection): string[] {
  const ptime = options.ptime ?? 20;
  return [...(ptime > 0 ? [`a=ptime:${ptime}`] : []), `a=${direction}`];
}

function checkedPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`SDP: RTP port ${port} is not 1–65535`);
  return port;
}
