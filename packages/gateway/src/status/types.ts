/** What the status page, the JSON API and /metrics show: a snapshot the gateway assembles on demand. */
export interface GatewayStatus {
  /** ISO time the gateway started. */
  startedAt: string;
  listeners: Array<{ protocol: string; address: string; port: number; path?: string }>;
  pbx: {
    /** `address:port/transport` of the one pbx. */
    target: string;
    /** Set credentials currently cached from the pbx. */
    credentials: number;
    /** ISO time of the last successful credential refresh, undefined before the first. */
    credentialsRefreshedAt?: string;
    /** Why the last refresh failed, if it did. */
    credentialsError?: string;
  };
  certificate: { subject: string; validTo: string; fingerprint256: string; loadedAt: string };
  registrations: RegisteredSetView[];
  /** Calls through the gateway now (ringing or connected), one per set-side leg. */
  calls: CallView[];
  blocks: BlockView[];
  /** Monotonic counters and current gauges, by name (see COUNTER_HELP for the list). */
  counters: GatewayCounters;
}

/** One registered set, as the MBG's Remote-worker status lists it. */
export interface RegisteredSetView {
  user: string;
  /** The device as its User-Agent names it (else its instance URN, else "unknown device"). */
  device: string;
  /** Its +sip.instance (RFC 5626), e.g. urn:uuid:..., when it sent one. */
  instance?: string;
  transport: string;
  /** `address:port` the set's connection comes from (after NAT). */
  source: string;
  /** ISO time of the first successful REGISTER of this binding. */
  since: string;
  /** ISO time the binding expires unless refreshed. */
  expires: string;
}

/** One call through the gateway, as its set sees it, and what its media has done so far. */
export interface CallView {
  /** The set-side user. */
  user: string;
  /** 'outgoing': the set called; 'incoming': the set is called. */
  direction: 'outgoing' | 'incoming';
  /** The other party's number. */
  peer: string;
  state: 'ringing' | 'connected';
  /** ISO time the call started (its INVITE). */
  since: string;
  /** RTP and RTCP packets the set sent (taken, relayed or not: on hold they are not), relayed to it, and refused (from an address media is not taken from). */
  media: { fromSet: number; toSet: number; refused: number };
  /** Why the call has no media one way, when all of it is refused (e.g. a multi-homed set). */
  warning?: string;
}

export interface BlockView {
  /**
   * A blocked source address, or a locked user (refused from every source it never
   * authenticated from; its known devices keep working).
   */
  kind: 'source' | 'user';
  value: string;
  reason: 'authentication-failures' | 'flood' | 'manual';
  /** Failures or requests counted when the block was set. */
  count: number;
  since: string;
  until: string;
}

export interface GatewayCounters {
  /** Requests received from sets (all methods). */
  requests: number;
  /** Responses 401/407 sent to sets. */
  challenges: number;
  authFailures: number;
  /** Messages dropped: blocked sources, black-listed sources, scanners. */
  dropped: number;
  scannersDropped: number;
  blocksActive: number;
  blocksTotal: number;
  registrations: number;
  /** Open set-side connections (TCP, TLS, WS, WSS). */
  connections: number;
  callsActive: number;
  callsTotal: number;
  /** Sets removed because a keepalive OPTIONS went unanswered or their flow died. */
  keepaliveFailures: number;
  rtpPackets: number;
  rtpBytes: number;
  /** Calls one side of which had all its media refused (sent from an address media is not taken from). */
  callsMediaRefused: number;
  /** Malformed messages answered 400 or dropped. */
  malformed: number;
  /** Set-side server transactions alive now: only authenticated requests make one (challenges are stateless). */
  serverTransactions: number;
}

/** One line of help per counter: the Prometheus HELP text and the status page's label. */
export const COUNTER_HELP: Record<keyof GatewayCounters, { help: string; type: 'counter' | 'gauge' }> = {
  requests: { help: 'SIP requests received from sets', type: 'counter' },
  challenges: { help: 'Digest challenges (401/407) sent to sets', type: 'counter' },
  authFailures: { help: 'Requests from sets with wrong credentials', type: 'counter' },
  dropped: { help: 'Messages dropped unanswered (blocked, black-listed or scanner sources)', type: 'counter' },
  scannersDropped: { help: 'Requests dropped because their User-Agent is a known scanner', type: 'counter' },
  blocksActive: { help: 'Sources blocked and users locked now', type: 'gauge' },
  blocksTotal: { help: 'Automatic blocks set since start', type: 'counter' },
  registrations: { help: 'Sets registered through the gateway', type: 'gauge' },
  connections: { help: 'Open set-side connections (TCP, TLS, WS, WSS)', type: 'gauge' },
  callsActive: { help: 'Calls in progress through the gateway', type: 'gauge' },
  callsTotal: { help: 'Calls set up through the gateway since start', type: 'counter' },
  keepaliveFailures: { help: 'Registrations removed because the set stopped answering or its connection died', type: 'counter' },
  rtpPackets: { help: 'RTP and RTCP packets relayed', type: 'counter' },
  rtpBytes: { help: 'RTP and RTCP bytes relayed', type: 'counter' },
  callsMediaRefused: { help: 'Calls whose media from one side was all refused (from another address than allowed)', type: 'counter' },
  malformed: { help: 'Malformed SIP messages answered 400 or dropped', type: 'counter' },
  serverTransactions: { help: 'Set-side server transactions alive (challenges leave none)', type: 'gauge' },
};
