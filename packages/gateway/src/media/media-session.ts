import { SessionDescription } from '@psi-lab/media';
import type { Logger } from 'pino';
import { RelayedStream, otherSide, type MediaSide } from './relayed-stream.js';
import type { RtpPortPool, RtpSocketPair } from './port-pool.js';
import { endpointMedia, rewriteTowards, type RelayPorts } from './sdp-rewrite.js';

/** Packets and bytes relayed in one direction. */
export interface MediaFlowStats {
  packets: number;
  bytes: number;
}

export interface MediaSessionStats {
  setToPbx: MediaFlowStats;
  pbxToSet: MediaFlowStats;
  /** Packets not relayed: destination not known yet, stream disabled or on hold, or a foreign source. */
  dropped: number;
  /** Of those, the packets refused per side for coming from an address media is not taken from. */
  refused: Record<MediaSide, number>;
  /** Packets each side's endpoint sent that were taken (from an allowed address), relayed or not (on hold). */
  received: Record<MediaSide, number>;
  /** Why a side's media is all being refused (the call is silent that way), once it is. */
  warning?: string;
}

/** Refused packets, with none taken from that side, that make a call's media "all dropped": a second of audio. */
export const REFUSED_MEDIA_ALARM = 50;

/** What a MediaSession needs from the relay that creates it. */
export interface MediaSessionContext {
  pool: RtpPortPool;
  /** The gateway's own address on each side, as SDP announces it. */
  addresses: Record<MediaSide, string>;
  /** Where the relay sockets are bound on each side (default: the announced addresses). */
  bindAddresses?: Record<MediaSide, string>;
  logger?: Logger;
  /** Called for every packet relayed, for the relay's totals. */
  onForwarded?(bytes: number): void;
  /** Called once when the session has closed and released its ports. */
  onClosed?(session: MediaSession): void;
  /** m= lines one SDP may have: each costs relay ports on both sides (default: no limit). */
  maxStreams?: number;
  /** Networks a set's media may come from and its SDP may name, besides its signalling address (media.trustedNetworks). */
  isTrustedNetwork?: (address: string) => boolean;
  /** Called once a side's media has all been refused (REFUSED_MEDIA_ALARM packets, none taken). */
  onMediaRefused?(session: MediaSession, side: MediaSide, source: string): void;
}

/** An SDP with more m= lines than the relay takes for one call. */
export class MediaStreamLimitError extends Error {
  constructor(readonly limit: number, readonly streams: number) {
    super(`SDP with ${streams} media streams: at most ${limit} are relayed`);
  }
}

/**
 * The media of one call anchored at the gateway: SDP from either side is rewritten to point at
 * the gateway, and RTP/RTCP is relayed between the set-side and pbx-side endpoints, one
 * RelayedStream per m= line index. Ports of an m= line stay the same across re-offers.
 */
export class MediaSession {
  private readonly streams: RelayedStream[] = [];
  private readonly counters: MediaSessionStats = { setToPbx: { packets: 0, bytes: 0 }, pbxToSet: { packets: 0, bytes: 0 }, dropped: 0, refused: { set: 0, pbx: 0 }, received: { set: 0, pbx: 0 } };
  private readonly logger?: Logger;
  /** rewrite() and close() run one at a time, in call order, so sockets are never allocated twice or leaked. */
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private setAddress: string | undefined;

  constructor(readonly id: string, private readonly ctx: MediaSessionContext) {
    this.logger = ctx.logger?.child({ mediaSession: id });
  }

  /** True once close() has been called. */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** A copy of the session's counters. */
  get stats(): MediaSessionStats {
    const { setToPbx, pbxToSet, dropped, refused, received, warning } = this.counters;
    return { setToPbx: { ...setToPbx }, pbxToSet: { ...pbxToSet }, dropped, refused: { ...refused }, received: { ...received }, ...(warning ? { warning } : {}) };
  }

  /** Take the set side's media only from this address (the set's signalling source), on every stream. */
  trustSetAddress(address: string): void {
    this.setAddress = address;
    for (const stream of this.streams) stream?.trust('set', address);
  }

  /** The gateway's RTP/RTCP ports on `side`, per m= line index (undefined: none allocated). */
  localPorts(side: MediaSide): Array<RelayPorts | undefined> {
    return this.streams.map((s) => {
      const pair = s.pair(side);
      return pair ? { rtp: pair.rtpPort, rtcp: pair.rtcpPort } : undefined;
    });
  }

  /**
   * Takes the SDP the endpoint on side `from` sent (offer or answer, initial or re-offer),
   * records where that endpoint receives each stream, makes sure the gateway relays each
   * enabled m= line on both sides, and returns the SDP to deliver to the other side.
   * Throws SdpError for malformed SDP, RtpPortsExhaustedError when no ports are left, and an
   * Error when the session is closed.
   */
  rewrite(from: MediaSide, sdp: Buffer | string): Promise<Buffer> {
    const result = this.queue.then(() => this.rewriteNow(from, sdp));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Stops relaying and returns every port to the pool; calling it again does nothing more. */
  close(): Promise<void> {
    this.closing ??= this.queue.then(async () => {
      await Promise.all(this.streams.map((s) => s.release(this.ctx.pool)));
      this.logger?.debug({ stats: this.counters }, 'media session closed');
      this.ctx.onClosed?.(this);
    });
    return this.closing;
  }

  private async rewriteNow(from: MediaSide, text: Buffer | string): Promise<Buffer> {
    if (this.closed) throw new Error(`media session ${this.id} is closed: cannot take SDP from the ${from} side`);
    const sdp = SessionDescription.parse(text);
    const media = endpointMedia(sdp);
    const limit = this.ctx.maxStreams;
    if (limit !== undefined && media.length > limit) throw new MediaStreamLimitError(limit, media.length);
    const to = otherSide(from);
    const ports: Array<RelayPorts | undefined> = [];
    for (const [index, endpoint] of media.entries()) {
      const stream = (this.streams[index] ??= this.newStream(index));
      if (!endpoint.enabled) continue;
      await this.ensurePair(stream, from);
      const pair = await this.ensurePair(stream, to);
      ports[index] = { rtp: pair.rtpPort, rtcp: pair.rtcpPort };
    }
    // Only once every port is there: a failed rewrite leaves the destinations as they were.
    media.forEach((endpoint, index) => this.streams[index].updateEndpoint(from, endpoint));
    rewriteTowards(sdp, this.ctx.addresses[to], ports);
    this.logger?.debug({ from, streams: media.map((m) => ({ enabled: m.enabled, hold: m.hold, rtp: m.rtp })) }, 'SDP anchored');
    return sdp.toBuffer();
  }

  private async ensurePair(stream: RelayedStream, side: MediaSide): Promise<RtpSocketPair> {
    const existing = stream.pair(side);
    if (existing) return existing;
    const pair = await this.ctx.pool.allocate(this.ctx.bindAddresses?.[side] ?? this.ctx.addresses[side]);
    stream.attach(side, pair);
    return pair;
  }

  private newStream(index: number): RelayedStream {
    const stream = this.makeStream(index);
    if (this.setAddress) stream.trust('set', this.setAddress);
    return stream;
  }

  private makeStream(index: number): RelayedStream {
    return new RelayedStream(
      index,
      {
        forwarded: (from, bytes) => {
          const flow = from === 'set' ? this.counters.setToPbx : this.counters.pbxToSet;
          flow.packets++;
          flow.bytes += bytes;
          this.ctx.onForwarded?.(bytes);
        },
        accepted: (from) => {
          this.counters.received[from]++;
        },
        dropped: (from, source) => {
          this.counters.dropped++;
          if (source === undefined) return;
          const refused = ++this.counters.refused[from];
          if (refused === REFUSED_MEDIA_ALARM && this.counters.received[from] === 0) this.alarm(from, source);
        },
      },
      this.logger,
      this.ctx.isTrustedNetwork,
    );
  }

  /** Every packet from one side refused so far: say so loudly, once, for the operator to see. */
  private alarm(side: MediaSide, source: string): void {
    const warning = side === 'set'
      ? `the set's media comes from ${source}, not from its signalling address ${this.setAddress ?? '?'}: all dropped (media.trustedNetworks lets a set's media in from other networks)`
      : `the pbx side's media comes from ${source}, not from the address its SDP names: all dropped`;
    this.logger?.warn({ side, source, setAddress: this.setAddress, refused: this.counters.refused[side] }, `call without media: ${warning}`);
    if (this.counters.warning !== undefined) return;
    this.counters.warning = warning;
    this.ctx.onMediaRefused?.(this, side, source);
  }
}
