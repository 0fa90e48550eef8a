import { BRANCH_MAGIC_COOKIE, uriEquals, type SipRequest, type SipResponse, type Via } from '../message/index.js';

/**
 * Whether a Via's branch identifies a transaction by itself (RFC 3261 §8.1.1.7). A branch that
 * is only the cookie (RFC 4475 "badbranch") cannot be unique, so it is treated like an RFC 2543
 * branch and matched the old way.
 */
export function hasUniqueBranch(via: Via): boolean {
  const branch = via.branch;
  return branch !== undefined && branch.startsWith(BRANCH_MAGIC_COOKIE) && branch.length > BRANCH_MAGIC_COOKIE.length;
}

/** The method a request is matched under: an ACK belongs to its INVITE's transaction. */
export function transactionMethod(method: string): string {
  return method === 'ACK' ? 'INVITE' : method;
}

/**
 * Server transaction key for RFC 3261 requests (§17.2.3): branch, sent-by and method. Undefined
 * for a request without a unique branch, which needs `matchesLegacy` instead.
 * `asMethod` overrides the method: CANCEL looks up the INVITE it cancels (§9.2).
 */
export function serverKey(request: SipRequest, asMethod?: string): string | undefined {
  const via = request.via;
  if (!hasUniqueBranch(via)) return undefined;
  return `${via.branch}|${sentBy(via)}|${asMethod ?? transactionMethod(request.method)}`;
}

/** Where RFC 2543 transactions are indexed: candidates share Call-ID and CSeq number. */
export function legacyKey(request: SipRequest): string {
  return `${request.callId}|${request.cseq.seq}`;
}

/** What the legacy comparison needs to know about a server transaction. */
export interface LegacyCandidate {
  readonly request: SipRequest;
  /** To tag of the final response sent, which the ACK of that response carries. */
  readonly responseToTag: string | undefined;
}

/**
 * RFC 2543 matching (§17.2.3): Request-URI, To tag, From tag, Call-ID, CSeq and top Via equal to
 * the request that created the transaction. An ACK's To tag is compared with the response's, and
 * its CSeq method is not compared (it is ACK, the original INVITE). `asMethod` as in serverKey.
 */
export function matchesLegacy(candidate: LegacyCandidate, incoming: SipRequest, asMethod?: string): boolean {
  const original = candidate.request;
  const method = asMethod ?? incoming.method;
  if (transactionMethod(method) !== original.method) return false;
  if (incoming.callId !== original.callId || incoming.cseq.seq !== original.cseq.seq) return false;
  if (incoming.from.tag !== original.from.tag) return false;
  const expectedToTag = method === 'ACK' ? candidate.responseToTag : original.to.tag;
  if (incoming.to.tag !== expectedToTag) return false;
  return sameRequestUri(original, incoming) && sameVia(original.via, incoming.via);
}

/** Client transaction key (§17.1.3): the branch the request was sent with and its method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

/** The client key a response belongs to: its top Via branch and its CSeq method. */
export function responseKey(response: SipResponse): string | undefined {
  const branch = response.via.branch;
  return branch === undefined ? undefined : clientKey(branch, response.cseq.method);
}

function sentBy(via: Via): string {
  return `${via.host.toLowerCase()}:${via.port ?? defaultPort(via.transport)}`;
}

function defaultPort(transport: string): number {
  const t = transport.toUpperCase();
  return t === 'TLS' || t === 'WSS' ? 5061 : 5060;
}

function sameRequestUri(a: SipRequest, b: SipRequest): boolean {
  try {
    return uriEquals(a.requestUri, b.requestUri);
  } catch {
    return a.uri === b.uri;
  }
}

/**
 * Via equality (§20.42), except for the received and rport values our own transport stamps on
 * arrival: they depend on the packet's source, which a retransmission may not share.
 */
function sameVia(a: Via, b: Via): boolean {
  if (a.transport.toUpperCase() !== b.transport.toUpperCase()) return false;
  if (`${a.protocol}/${a.version}`.toUpperCase() !== `${b.protocol}/${b.version}`.toUpperCase()) return false;
  if (sentBy(a) !== sentBy(b)) return false;
  const pa = comparableParams(a);
  const pb = comparableParams(b);
  return pa.size === pb.size && [...pa].every(([name, value]) => pb.get(name) === value);
}

function comparableParams(via: Via): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of via.params) {
    const key = name.toLowerCase();
    if (key === 'received' || key === 'rport') continue;
    // The branch is an opaque identifier compared as is; other values are case-insensitive.
    out.set(key, value === null ? '' : key === 'branch' ? value : value.toLowerCase());
  }
  return out;
}
