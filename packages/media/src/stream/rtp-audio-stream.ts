import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { SilenceSource, type AudioFrameSource } from '../audio/index.js';
import { codecByName, type AudioCodec } from '../codecs/index.js';
import { DtmfReceiver, dtmfPackets } from '../dtmf/index.js';
import { JitterBuffer } from '../jitter/index.js';
import { RtpPacket, RtpStatistics, buildRtcpCompound, isRtcp, ntpFromUnixMs, seqAdd } from '../rtp/index.js';
import type { NegotiatedAudio } from '../sdp/index.js';

const FRAME_MS = 20;
const SAMPLES_PER_FRAME = 160;
const RTCP_INTERVAL_MS = 5000;

export interface RtpAudioStreamOptions {
  /** Where to bind (our address toward the other side). */
  address: string;
  /** What we send; silence by default. Swap it any time with `play()`. */
  source?: AudioFrameSource;
  /** Each 20 ms of what we hear (silence where nothing arrived), e.g. a WavRecorder's append. */
  onAudio?: (frame: Int16Array) => void;
  /** Each DTMF digit heard (RFC 4733). */
  onDtmf?: (digit: string) => void;
  logger?: Logger;
}

export interface RtpAudioStreamStats {
  packetsSent: number;
  packetsReceived: number;
  /** Frames we had to conceal with silence (lost or late). */
  framesLost: number;
  /** RFC 3550 interarrival jitter, ms. */
  jitterMs: number;
}

/**
 * One G.711 audio stream over RTP on a UDP socket pair (RTCP on port + 1), as a softphone runs
 * it: every 20 ms a frame from the source is encoded and sent, and a frame is taken from the
 * jitter buffer, decoded and handed on (to a recorder). Symmetric: it sends from the port it
 * receives on, so a gateway that latches (RFC 4961) finds it behind NAT. DTMF goes as RFC 4733
 * telephone-events in place of audio for their duration.
 */
export class RtpAudioStream {
  private negotiated: NegotiatedAudio | undefined;
  private codec: AudioCodec | undefined;
  private source: AudioFrameSource;
  private readonly ssrc = randomInt(1, 2 ** 32 - 1);
  private seq = randomInt(0, 65536);
  private timestamp = randomInt(0, 2 ** 31);
  private readonly jitter = new JitterBuffer({ depthMs: 60, frameMs: FRAME_MS });
  private readonly stats = new RtpStatistics({ clockRate: 8000 });
  private dtmfReceiver: DtmfReceiver | undefined;
  private readonly dtmfQueue: RtpPacket[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private nextTickAt = 0;
  private sent = { packets: 0, octets: 0 };
  private closed = false;
  private marker = true;

  private constructor(private readonly rtp: dgram.Socket, private readonly rtcp: dgram.Socket, private readonly options: RtpAudioStreamOptions) {
    this.source = options.source ?? new SilenceSource();
    rtp.on('message', (msg, rinfo) => this.onRtp(msg, rinfo));
    rtcp.on('message', () => undefined);
    for (const s of [rtp, rtcp]) s.on('error', (e) => options.logger?.warn({ err: e.message }, 'RTP socket error'));
  }

  /** Bind an even port and the odd one above it on `address`. */
  static async open(options: RtpAudioStreamOptions): Promise<RtpAudioStream> {
    const type = isIPv6(options.address) ? 'udp6' : 'udp4';
    for (let attempt = 0; attempt < 50; attempt++) {
      const rtp = dgram.createSocket(type);
      await bind(rtp, options.address, 0);
      const port = rtp.address().port;
      if (port % 2 !== 0 || port === 65535) {
        rtp.close();
        continue;
      }
      const rtcp = dgram.createSocket(type);
      try {
        await bind(rtcp, options.address, port + 1);
        return new RtpAudioStream(rtp, rtcp, options);
      } catch {
        rtp.close();
        rtcp.close();
      }
    }
    throw new Error(`no free RTP/RTCP port pair on ${options.address}`);
  }

  get localPort(): number {
    return this.rtp.address().port;
  }

  get address(): string {
    return this.options.address;
  }

  get statistics(): RtpAudioStreamStats {
    return {
      packetsSent: this.sent.packets, packetsReceived: this.stats.received,
      framesLost: this.jitter.stats.lost, jitterMs: this.stats.jitter / 8,
    };
  }

  /** Apply (or change, after a re-INVITE) what offer/answer settled, and run. */
  configure(negotiated: NegotiatedAudio): void {
    this.negotiated = negotiated;
    this.codec = codecByName(negotiated.codec);
    if (!this.codec) throw new Error(`no codec named ${negotiated.codec}`);
    const tePt = negotiated.telephoneEventPayloadType;
    this.dtmfReceiver = tePt === undefined ? undefined : new DtmfReceiver({ payloadType: tePt, onDigit: (d) => this.options.onDtmf?.(d.digit) });
    if (!this.ticker && !this.closed) this.start();
  }

  /** Send something else from now on (a tone, a WAV, silence). */
  play(source: AudioFrameSource): void {
    this.source = source;
  }

  /** Queue RFC 4733 events for each digit (0-9 * # A-D); false when the other side takes none. */
  sendDtmf(digits: string, durationMs = 100): boolean {
    const pt = this.negotiated?.telephoneEventPayloadType;
    if (pt === undefined || this.closed) return false;
    for (const digit of digits) {
      // Each event keeps one timestamp; the audio clock runs on underneath it.
      const start = this.timestamp + SAMPLES_PER_FRAME * this.dtmfQueue.length;
      const packets = dtmfPackets(digit, { payloadType: pt, ssrc: this.ssrc, startSeq: 0, timestamp: start >>> 0, durationMs, packetMs: FRAME_MS });
      this.dtmfQueue.push(...packets);
      // A pause between digits, as a keypad leaves one.
      for (let i = 0; i < 3; i++) this.dtmfQueue.push(silenceMarker);
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.ticker);
    clearInterval(this.rtcpTimer);
    this.sendRtcp(true);
    await new Promise((r) => setTimeout(r, 5));
    for (const s of [this.rtp, this.rtcp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  private start(): void {
    this.nextTickAt = performance.now();
    this.tick();
    this.rtcpTimer = setInterval(() => this.sendRtcp(false), RTCP_INTERVAL_MS);
    this.rtcpTimer.unref();
  }

  /** One frame each 20 ms of wall time, catching up after a late timer instead of drifting. */
  private tick(): void {
    if (this.closed) return;
    const now = performance.now();
    let frames = 0;
    while (this.nextTickAt <= now && frames < 10) {
      this.sendFrame();
      this.receiveFrame();
      this.nextTickAt += FRAME_MS;
      frames++;
    }
    if (frames === 10) this.nextTickAt = now + FRAME_MS;
    this.ticker = setTimeout(() => this.tick(), Math.max(1, this.nextTickAt - performance.now()));
  }

  private sendFrame(): void {
    const n = this.negotiated;
    const frame = this.source.nextFrame() ?? new Int16Array(SAMPLES_PER_FRAME);
    const sending = n && (n.direction === 'sendrecv' || n.direction === 'sendonly');
    // Digits wait while we do not send (on hold) rather than being lost.
    const queued = sending ? this.dtmfQueue.shift() : undefined;
    if (sending && queued && queued !== silenceMarker) {
      this.send(new RtpPacket({ payloadType: queued.payloadType, timestamp: queued.timestamp, marker: queued.marker, payload: queued.payload, sequenceNumber: this.nextSeq(), ssrc: this.ssrc }));
    } else if (sending && !queued && this.codec) {
      this.send(new RtpPacket({ payloadType: n.payloadType, sequenceNumber: this.nextSeq(), timestamp: this.timestamp >>> 0, ssrc: this.ssrc, marker: this.marker, payload: this.codec.encode(frame) }));
      this.marker = false;
    }
    this.timestamp = (this.timestamp + SAMPLES_PER_FRAME) % 2 ** 32;
  }

  private receiveFrame(): void {
    const out = this.jitter.pop();
    if (!this.options.onAudio) return;
    const frame = out.payload && this.codec ? this.decode(out.payload) : new Int16Array(SAMPLES_PER_FRAME);
    this.options.onAudio(frame);
  }

  private decode(payload: Buffer): Int16Array {
    const samples = this.codec!.decode(payload);
    if (samples.length === SAMPLES_PER_FRAME) return samples;
    const fixed = new Int16Array(SAMPLES_PER_FRAME);
    fixed.set(samples.subarray(0, SAMPLES_PER_FRAME));
    return fixed;
  }

  private onRtp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed || isRtcp(msg)) return;
    let packet: RtpPacket;
    try {
      packet = RtpPacket.parse(msg);
    } catch {
      return;
    }
    const n = this.negotiated;
    if (!n) return;
    // Only the negotiated peer's address is heard (any port: NAT): no injected audio or digits.
    if (rinfo.address !== n.remote.address && n.remote.address !== '0.0.0.0') return;
    if (packet.payloadType === n.telephoneEventPayloadType) {
      this.dtmfReceiver?.push(packet);
      return;
    }
    if (packet.payloadType !== n.payloadType) return;
    this.stats.update(packet, performance.now());
    this.jitter.push(packet, performance.now());
  }

  private send(packet: RtpPacket): void {
    const remote = this.negotiated?.remote;
    if (!remote || remote.port === 0 || remote.address === '0.0.0.0') return;
    const data = packet.serialize();
    this.sent.packets++;
    this.sent.octets += packet.payload.length;
    this.rtp.send(data, remote.port, remote.address);
  }

  private sendRtcp(bye: boolean): void {
    const remote = this.negotiated?.remote;
    if (!remote || remote.port === 0 || remote.address === '0.0.0.0') return;
    const block = this.stats.received > 0 ? [this.stats.reportBlock()] : [];
    const data = buildRtcpCompound({
      ssrc: this.ssrc, cname: `psi-phone@${this.options.address}`,
      sender: this.sent.packets > 0 ? { ...ntpFromUnixMs(Date.now()), rtpTimestamp: this.timestamp >>> 0, packetCount: this.sent.packets, octetCount: this.sent.octets } : undefined,
      reports: block, bye: bye ? 'call ended' : undefined,
    });
    try {
      this.rtcp.send(data, remote.rtcpPort || remote.port + 1, remote.address);
    } catch {
      // the socket is closing
    }
  }

  private nextSeq(): number {
    this.seq = seqAdd(this.seq, 1);
    return this.seq;
  }
}

/** A slot in the DTMF queue that sends nothing (the gap between digits). */
const silenceMarker = new RtpPacket({ payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: Buffer.alloc(0) });

function bind(socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
