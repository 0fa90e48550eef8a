/**
 * The pbx's data, as the rest of the pbx sees it. One implementation: SqliteStore
 * (better-sqlite3, WAL). Every method is synchronous: better-sqlite3 is, and a registrar
 * answering thousands of REGISTERs a second should not pay for promises it does not need.
 */

export type HashAlgorithm = 'MD5' | 'SHA-256';

export interface CloudLinkRole {
  name: string;
  /** The "Zoom PSI" tick box: subscribers with this role are provisioned for Zoom. */
  zoomPsi: boolean;
  description: string;
}

export type ForwardKind = 'all' | 'busy' | 'noAnswer';

export interface Forwarding {
  kind: ForwardKind;
  /** Extension (or external number) to forward to. */
  target: string;
  /** For noAnswer: seconds to ring before forwarding (default 20). */
  delaySeconds?: number;
}

export interface Subscriber {
  extension: string;
  name: string;
  /** Unique: the key CloudLink and Zoom join on. */
  email: string;
  /** CloudLink role name, or null. */
  role: string | null;
  /** "Do not disturb allowed" — ticked by default on the real system. */
  dndAllowed: boolean;
  dndActive: boolean;
  forwardings: Forwarding[];
  createdAt: string;
  updatedAt: string;
}

export interface NewSubscriber {
  extension: string;
  name: string;
  email: string;
  /** Clear text only on the way in: stored as HA1 (MD5 and SHA-256) for the realm. */
  password: string;
  role?: string | null;
  dndAllowed?: boolean;
}

export type SubscriberPatch = Partial<Omit<NewSubscriber, 'extension'>> & {
  dndActive?: boolean;
  forwardings?: Forwarding[];
};

/** The Applications > MBG entry: at most one gateway, as on the real system. */
export interface MbgEntry {
  /** Gateway address or FQDN (where its SIP traffic comes from). */
  address: string;
  publicFqdn: string;
  account: string;
  /** Stored as given: the gateway proves it knows it (HTTP Basic or digest over TLS). */
  sharedSecret: string;
}

export interface AllowListEntry {
  id: number;
  /** IPv4 or IPv6 CIDR, e.g. 127.0.0.1/32. */
  cidr: string;
  comment: string;
}

/** A network of on-site phones that may reach the pbx directly (besides its MBG). Same shape as an Allow-List entry. */
export type SiteNetwork = AllowListEntry;

/** One registered contact of an address of record (RFC 3261 §10, RFC 5626 flows). */
export interface Binding {
  aor: string;
  contact: string;
  expiresAt: number;
  q: number;
  callId: string;
  cseq: number;
  instanceId: string | null;
  regId: number | null;
  /** Path header values (RFC 3327), outermost first. */
  path: string[];
  /** The flow the REGISTER arrived on (transport layer flow id) and its source. */
  flowId: string;
  source: string;
  transport: string;
  userAgent: string;
  updatedAt: number;
}

/** Typed failures that a REST API or CLI turns into a clear message naming the field. */
export class StoreError extends Error {
  constructor(
    readonly code: 'duplicate-email' | 'duplicate-extension' | 'unknown-role' | 'unknown-subscriber' | 'weak-password' | 'bad-cidr' | 'bad-field' | 'role-in-use' | 'not-found' | 'duplicate-cidr',
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface PbxStore {
  readonly realm: string;
  /**
   * Grows with every change to subscribers, roles, the MBG entry, the Allow-List and the site
   * networks made through this store (not with registrations): a cheap "has anything changed".
   */
  readonly configVersion: number;
  // subscribers
  addSubscriber(s: NewSubscriber): Subscriber;
  updateSubscriber(extension: string, patch: SubscriberPatch): Subscriber;
  removeSubscriber(extension: string): void;
  getSubscriber(extension: string): Subscriber | undefined;
  findSubscriberByEmail(email: string): Subscriber | undefined;
  listSubscribers(): Subscriber[];
  /** The stored secret for digest: HA1 of extension:realm:password. */
  ha1(extension: string, algorithm: HashAlgorithm): string | undefined;
  // roles
  putRole(role: CloudLinkRole): CloudLinkRole;
  removeRole(name: string): void;
  listRoles(): CloudLinkRole[];
  // MBG entry
  setMbg(entry: MbgEntry | null): void;
  getMbg(): MbgEntry | null;
  // SIP security allow-list
  addAllowListEntry(cidr: string, comment: string): AllowListEntry;
  removeAllowListEntry(id: number): void;
  listAllowList(): AllowListEntry[];
  // site networks (on-site phones that may reach the pbx without its MBG)
  addSiteNetwork(cidr: string, comment: string): SiteNetwork;
  removeSiteNetwork(id: number): void;
  listSiteNetworks(): SiteNetwork[];
  // registrar bindings
  bindings(aor: string): Binding[];
  allBindings(): Binding[];
  /** Replace the bindings of an AoR in one transaction (RFC 3261 §10.3 step 7 is atomic). */
  replaceBindings(aor: string, bindings: Binding[]): void;
  /** Remove every binding expired at `now` (ms); returns how many. */
  reapBindings(now: number): number;
  close(): void;
}
