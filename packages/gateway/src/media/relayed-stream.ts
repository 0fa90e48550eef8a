import type { RemoteInfo } from 'node:dgram';
import type { Logger } from 'pino';
import type { RtpPortPool, RtpSocketPair } from './port-pool.js';
import type { EndpointMedia, TransportAddress } from './sdp-rewrite.js';

/** The set side (remote sets) or the pbx side of the gateway. */
export type MediaSide = 'set' | 'pbx';

export type PacketKind = 'rtp' | 'rtcp';

export function otherSide(side: MediaSide): MediaSide {
  return side === 'set' ? 'pbx' : 'set';
}

/** What a stream reports to its session. */
export interface RelayedStreamEvents {
  forwarded(from: MediaSide, bytes: number): void;
  /** A packet from `from`'s endpoint, taken (it came from an address media is taken from). */
  accepted(from: MediaSide): void;
  /** Not relayed: `source` is set when it came from an address media is not taken from. */
  dropped(from: MediaSide, source?: string): void;
}

/** What the gateway knows of the endpoint on one side, for one m= line. */
interface EndpointState {
  /** 'unknown' until that side's SDP for this m= line arrives; 'disabled' for m= port 0. */
  state: 'unknown' | 'enabled' | 'disabled';
  hold: boolean;
  destination: Partial<Record<PacketKind, TransportAddress>>;
  /** Set by the first packet received from that endpoint since its last SDP. */
  latched: Record<PacketKind, boolean>;
}

function freshEndpoint(): EndpointState {
  return { state: 'unknown', hold: false, destination: {}, latched: { rtp: false, rtcp: false } };
}

/**
 * The relay of one m= line: a socket pair per side, and where each side's endpoint receives.
 * What the side-X endpoint sends arrives on the side-X pair and leaves by the side-Y pair.
 * Symmetric RTP: the first packet from an endpoint latches its destination to the packet's real
 * source (sets behind NAT); later packets from other sources are dropped until that side sends a
 * new SDP, so nobody can hijack or inject into the stream by guessing the port.
 */
export class RelayedStream {
  private readonly sockets: Partial<Record<MediaSide, RtpSocketPair>> = {};
  private readonly endpoints: Record<MediaSide, EndpointState> = { set: freshEndpoint(), pbx: freshEndpoint() };
  /**
   * The only address media is taken from on each side (any port: NAT changes ports, not hosts).
   * Set side: the set's signalling address; pbx side: the address its SDP names. Without it,
   * whoever sprays the port range first would latch the stream ("RTP bleed").
   */
  private readonly trusted: Partial<Record<MediaSide, string>> = {};

  constructor(
    readonly index: number,
    private readonly events: RelayedStreamEvents,
    private readonly logger?: Logger,
    /**
     * Networks the operator trusts for sets' media (`media.trustedNetworks`): a multi-homed set
     * names one of its addresses in its SDP and sends from whichever its route picks.
     */
    private readonly isTrustedNetwork: (address: string) => boolean = () => false,
  ) {}

  /** The gateway's pair on `side`, if allocated. */
  pair(side: MediaSide): RtpSocketPair | undefined {
    return this.sockets[side];
  }

  /** Takes ownership of `pair` as this stream's sockets on `side`. */
  attach(side: MediaSide, pair: RtpSocketPair): void {
    this.sockets[side] = pair;
    pair.rtp.on('message', (msg, rinfo) => this.receive(side, 'rtp', msg, rinfo));
    pair.rtcp.on('message', (msg, rinfo) => this.receive(side, 'rtcp', msg, rinfo));
  }

  /** Take `side`'s media only from this address (the set's signalling source). */
  trust(side: MediaSide, address: string): void {
    this.trusted[side] = address;
  }

  /**
   * Records what `side`'s endpoint said in its latest SDP; forgets what was latched. An SDP
   * address other than the trusted one (a set behind NAT names its private address) is not sent
   * to: media waits for the first packet from the trusted address.
   */
  updateEndpoint(side: MediaSide, media: EndpointMedia): void {
    if (side === 'pbx' && media.enabled && media.rtp && media.rtp.address !== '0.0.0.0') this.trusted.pbx = media.rtp.address;
    const trusted = this.trusted[side];
    const foreign = (a: TransportAddress | undefined): boolean => trusted !== undefined && a !== undefined && !this.takesFrom(side, a.address);
    this.endpoints[side] = {
      state: media.enabled ? 'enabled' : 'disabled',
      hold: media.hold,
      destination: media.enabled ? { rtp: foreign(media.rtp) ? undefined : media.rtp, rtcp: foreign(media.rtcp) ? undefined : media.rtcp } : {},
      latched: { rtp: false, rtcp: false },
    };
  }

  /** Closes this stream's sockets and returns their ports to `pool`. */
  async release(pool: RtpPortPool): Promise<void> {
    const pairs = [this.sockets.set, this.sockets.pbx].filter((p): p is RtpSocketPair => p !== undefined);
    delete this.sockets.set;
    delete this.sockets.pbx;
    await Promise.all(pairs.map((p) => pool.release(p)));
  }

  /** Whether media from (or to) `address` is taken on `side`: its trusted address, or for a set one in a trusted network. */
  private takesFrom(side: MediaSide, address: string): boolean {
    const trusted = this.trusted[side];
    return trusted === undefined || address === trusted || (side === 'set' && this.isTrustedNetwork(address));
  }

  private receive(from: MediaSide, kind: PacketKind, msg: Buffer, rinfo: RemoteInfo): void {
    const source = this.endpoints[from];
    if (source.state === 'disabled') return this.events.dropped(from);
    if (!this.takesFrom(from, rinfo.address)) return this.events.dropped(from, rinfo.address);
    this.events.accepted(from);
    const latched = source.destination[kind];
    if (!source.latched[kind]) {
      source.destination[kind] = { address: rinfo.address, port: rinfo.port };
      source.latched[kind] = true;
      if (latched?.address !== rinfo.address || latched?.port !== rinfo.port) {
        this.logger?.debug({ stream: this.index, side: from, kind, sdp: latched, source: `${rinfo.address}:${rinfo.port}` }, 'media source latched');
      }
    } else if (latched?.address !== rinfo.address || latched.port !== rinfo.port) {
      return this.events.dropped(from);
    }

    const to = otherSide(from);
    const target = this.endpoints[to];
    const destination = target.destination[kind];
    const socket = this.sockets[to]?.[kind];
    if (!destination || !socket || target.hold || target.state === 'disabled') return this.events.dropped(from);
    socket.send(msg, destination.port, destination.address, (err) => {
      if (err) this.logger?.warn({ err, stream: this.index, to, kind, destination }, 'media relay send failed');
    });
    this.events.forwarded(from, msg.length);
  }
}
