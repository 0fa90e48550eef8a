import type { Logger } from 'pino';
import { MediaSession } from './media-session.js';
import { RtpPortPool } from './port-pool.js';

export interface MediaRelayOptions {
  /** Address the gateway relays on toward sets: bound, and announced in SDP sent to sets. */
  setSideAddress: string;
  /** Address the gateway relays on toward the pbx: bound, and announced in SDP sent to the pbx. */
  pbxSideAddress: string;
  /**
   * Where to bind, when not the announced address (behind NAT or in a container the announced
   * address is not one of ours): e.g. 0.0.0.0, or the address SIP listens on.
   */
  setSideBind?: string;
  pbxSideBind?: string;
  /** m= lines one SDP may have (default: no limit). */
  maxStreams?: number;
  /** Networks a set's media may come from and its SDP may name, besides its signalling address (media.trustedNetworks). */
  isTrustedNetwork?: (address: string) => boolean;
  /** RTP port range (even RTP ports, RTCP = RTP + 1), shared by both sides. */
  portMin: number;
  portMax: number;
  logger?: Logger;
}

/** Totals since the relay started. */
export interface MediaRelayStats {
  /** Sessions created. */
  sessions: number;
  /** Sessions not closed yet. */
  activeSessions: number;
  /** RTP and RTCP packets relayed, both directions. */
  packets: number;
  bytes: number;
  /** Calls one side of which had all its media refused (from an address media is not taken from). */
  sessionsMediaRefused: number;
}

/**
 * Media anchoring for the gateway: creates one MediaSession per call, all drawing their relay
 * ports from one pool, and keeps the relay-wide counters.
 */
export class MediaRelay {
  private readonly pool: RtpPortPool;
  private readonly sessions = new Map<string, MediaSession>();
  private readonly totals = { sessions: 0, packets: 0, bytes: 0, sessionsMediaRefused: 0 };
  private closed = false;

  constructor(private readonly options: MediaRelayOptions) {
    this.pool = new RtpPortPool(options.portMin, options.portMax, options.logger);
  }

  get stats(): MediaRelayStats {
    return { ...this.totals, activeSessions: this.sessions.size };
  }

  /** The open session with this id, if any. */
  session(id: string): MediaSession | undefined {
    return this.sessions.get(id);
  }

  /**
   * A new session for one call (`id`: e.g. the call's Call-ID, used in logs). Throws when the
   * relay is closed or a session with that id is still open.
   */
  createSession(id: string): MediaSession {
    if (this.closed) throw new Error(`media relay is closed: cannot create session ${id}`);
    if (this.sessions.has(id)) throw new Error(`media session ${id} already exists`);
    const session = new MediaSession(id, {
      pool: this.pool,
      addresses: { set: this.options.setSideAddress, pbx: this.options.pbxSideAddress },
      bindAddresses: { set: this.options.setSideBind ?? this.options.setSideAddress, pbx: this.options.pbxSideBind ?? this.options.pbxSideAddress },
      logger: this.options.logger,
      maxStreams: this.options.maxStreams,
      isTrustedNetwork: this.options.isTrustedNetwork,
      onMediaRefused: () => {
        this.totals.sessionsMediaRefused++;
      },
      onForwarded: (bytes) => {
        this.totals.packets++;
        this.totals.bytes += bytes;
      },
      onClosed: (closed) => {
        if (this.sessions.get(id) === closed) this.sessions.delete(id);
      },
    });
    this.sessions.set(id, session);
    this.totals.sessions++;
    return session;
  }

  /** Closes every session and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.sessions.values()].map((s) => s.close()));
  }
}
