/**
 * The gateway's configuration, as read from its one YAML file (`gateway.yaml`). Every field has a
 * default (see defaults.ts); relative paths are taken from the directory of the YAML file.
 */
export interface GatewayConfig {
  /** Set-side SIP listeners: what remote sets and load tools connect to. */
  sip: {
    /** Address the set-side listeners bind to; default 127.0.0.1 (0.0.0.0 for every interface). */
    host: string;
    /** Address sets are told to use (Via, Contact, Record-Route, SDP); default `host`. */
    publicAddress: string;
    /** UDP and TCP port (0 disables both); default 5060. */
    port: number;
    /** SIP over TLS port (0 disables); default 5061. */
    tlsPort: number;
  };
  /** The set-facing HTTPS server: SIP over WSS (RFC 7118) and /healthz, nothing administrative. */
  https: {
    /** Address the HTTPS server binds to; default sip.host. */
    host: string;
    /** Default 8443 (0 disables WSS). */
    port: number;
    /** Path of the WebSocket upgrade for SIP over WSS; default `/sip`. */
    wsPath: string;
  };
  /** The administration listener (HTTPS): status page, JSON API, /metrics; never anonymous. */
  admin: {
    /** Address it binds to; default 127.0.0.1 (administration stays on this machine). */
    host: string;
    /** Default 9080 (0 disables it). */
    port: number;
    /** The admin credential; default: the one in `tokenFile`. */
    token?: string;
    /** Where the admin token is kept (0600), made at first start when absent; default `admin-token` beside the YAML file. */
    tokenFile: string;
  };
  /**
   * The "Web Server" certificate: one PEM pair for TLS, WSS and HTTPS. When the files do not
   * exist, a CA and a server certificate are generated into `dir` at first start.
   */
  certificate: {
    /** Default `certs` (next to the YAML file). */
    dir: string;
    /** Default `<dir>/server.pem`. */
    certFile: string;
    /** Default `<dir>/server.key`. */
    keyFile: string;
    /** The CA sets install; default `<dir>/ca.pem` (only written when generating). */
    caFile: string;
    /** Names put in a generated certificate; default [`localhost`, `127.0.0.1`, sip.publicAddress]. */
    names: string[];
    /** Reload when the files change (they are also reloaded on SIGHUP); default true. */
    watch: boolean;
    /** How often `watch` polls the files for a change, milliseconds; default 2000. */
    watchIntervalMs: number;
  };
  /** The one pbx this gateway is bound to (the MBG ↔ MiVoice 5000 association). */
  pbx: {
    /** The pbx's SIP address and port; default 127.0.0.1:5070. */
    address: string;
    port: number;
    /** Transport toward the pbx: `udp` or `tcp`; default `tcp`. */
    transport: 'udp' | 'tcp';
    /** Where the gateway listens for the pbx (UDP and TCP); default host 127.0.0.1, port 5062. */
    localHost: string;
    localPort: number;
    /** The pbx's management API (https), where set credentials (HA1) are read; default https://127.0.0.1:8070. */
    api: string;
    /** The CA the pbx API's certificate must chain to; default: the system's CAs. */
    apiCaFile?: string;
    /** The MBG entry's user account and shared secret on the pbx (required: no default). */
    account: string;
    secret: string;
    /** How often the credential cache asks the pbx for changes (a conditional GET), seconds; default 2. */
    credentialsRefreshSeconds: number;
  };
  /** Set-side authentication (SIP Support > Set-side Authentication Methods). */
  auth: {
    /** Offered in this order; default [MD5], as the MBG's "Set-side Authentication Methods: MD5" (SHA-256 is an opt-in). */
    algorithms: Array<'MD5' | 'SHA-256'>;
    /** Nonce lifetime, seconds; default 300. */
    nonceTtlSeconds: number;
  };
  /**
   * Devices with ICP-side credentials different from their set-side ones. Any device the pbx
   * lists may register; the ICP side defaults to the set-side credentials.
   */
  devices: Array<{
    /** Set-side user name (the extension). */
    user: string;
    /** User name toward the pbx; default `user`. */
    icpUser?: string;
    /** Password toward the pbx; default: answer the pbx with the set-side HA1. */
    icpPassword?: string;
  }>;
  keepalive: {
    /** SIP OPTIONS to each registered set, seconds; default 20, at most 180 (0 disables). */
    optionsIntervalSeconds: number;
    /** Connections silent this long are closed, seconds; default 300. */
    idleTimeoutSeconds: number;
  };
  media: {
    /** Address RTP is relayed on toward sets (SDP c=); default sip.publicAddress. */
    setSideAddress: string;
    /** Address RTP is relayed on toward the pbx; default pbx.localHost. */
    pbxSideAddress: string;
    /** Even port range for RTP (RTCP = RTP + 1); default 20000–29999. */
    portMin: number;
    portMax: number;
    /**
     * Networks (CIDR) a set's media may come from, and its SDP may name, besides its signalling
     * address: a multi-homed set, whose RTP leaves by another interface than its SIP. Media from
     * there is taken (and latched to), an SDP address there is sent to. Default []: a set's
     * media only from its signalling address (from anywhere else, anyone could inject into or
     * steal a call's audio).
     */
    trustedNetworks: string[];
  };
  security: {
    /**
     * CIDR rules in the order they are evaluated; the first that matches decides. A source no
     * rule matches is allowed (default []).
     */
    accessList: Array<{ cidr: string; list: 'white' | 'black' }>;
    /** Authentication failures from one source within `authFailureWindowSeconds` that block it; default 10. */
    maxAuthFailures: number;
    /**
     * Authentication failures against one user within `authFailureWindowSeconds` (at most 3
     * counted from any one source) that lock the user for sources it never authenticated from; default 10.
     */
    maxUserAuthFailures: number;
    /** The window authentication failures are counted over, seconds; default 600. */
    authFailureWindowSeconds: number;
    /** Devices (user, source address) that authenticated are known this long and not locked out, days; default 30. */
    knownDeviceDays: number;
    /** Requests one source may send within `windowSeconds` before it is blocked as a flood; default 200. */
    maxRequestsPerWindow: number;
    /** The flood-counting window, seconds; default 10. */
    windowSeconds: number;
    /**
     * Requests per second from every source together; above it, the sources sending most are
     * dropped for the rest of that tenth of a second; default 2000.
     */
    maxRequestsPerSecond: number;
    /** How long a first automatic block lasts, seconds; default 3600. A repeat offence within a day doubles it. */
    blockSeconds: number;
    /** The longest a repeated block grows to, seconds; default 86400. */
    maxBlockSeconds: number;
    /** Open connections one source address may hold; default 64. */
    maxConnectionsPerSource: number;
    /** Requests whose User-Agent contains one of these (case-insensitive) are dropped; default: known scanners. */
    scannerUserAgents: string[];
  };
  log: {
    /** pino level; default info. */
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** Log every SIP message (debug level); default false. */
    sipTrace: boolean;
  };
}

/** What a YAML file may contain: every field optional except the pbx account and secret. */
export type GatewayConfigInput = DeepPartial<GatewayConfig>;

type DeepPartial<T> = T extends Array<infer U> ? Array<DeepPartial<U>> : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
