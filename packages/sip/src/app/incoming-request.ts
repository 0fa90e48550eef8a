import { EventEmitter } from 'node:events';
import type { NameAddr, SipRequest, Uri } from '../message/index.js';
import { parseNameAddr } from '../message/index.js';
import type { Flow, TransportProtocol } from '../transport/index.js';

export interface IncomingRequestEvents {
  /** The caller sent CANCEL; a 487 has already been sent for the INVITE. */
  cancel: [cancel: SipRequest];
}

/**
 * A request as an application handler sees it, shaped like drachtio-srf's `req`: header access by
 * name, parsed headers on demand, where it came from, and a `cancel` event for INVITEs.
 */
export class IncomingRequest extends EventEmitter<IncomingRequestEvents> {
  /** Set by middleware (e.g. the authenticated user), read by later handlers. */
  readonly locals: Record<string, unknown> = {};
  canceled = false;

  constructor(readonly msg: SipRequest, readonly flow: Flow) {
    super();
  }

  get method(): string {
    return this.msg.method;
  }

  get uri(): string {
    return this.msg.uri;
  }

  get requestUri(): Uri {
    return this.msg.requestUri;
  }

  get callId(): string {
    return this.msg.callId;
  }

  get body(): Buffer {
    return this.msg.body;
  }

  get protocol(): TransportProtocol {
    return this.flow.protocol;
  }

  get sourceAddress(): string {
    return this.flow.remote.address;
  }

  get sourcePort(): number {
    return this.flow.remote.port;
  }

  get(name: string): string | undefined {
    return this.msg.get(name);
  }

  getAll(name: string): string[] {
    return this.msg.getAll(name);
  }

  has(name: string): boolean {
    return this.msg.has(name);
  }

  /** A name-addr header (From, To, Contact, Route...) parsed; throws SipParseError if malformed. */
  getParsedHeader(name: string): NameAddr {
    return parseNameAddr(this.msg.get(name) ?? '', name);
  }

  override toString(): string {
    return this.msg.toString();
  }
}

/**
 * What tells one request from another for a stateless answer (Call-ID, CSeq, top Via branch):
 * the same for each of its retransmissions.
 */
export function requestIdentity(req: IncomingRequest): string {
  let branch = '';
  try {
    branch = req.msg.via.branch ?? '';
  } catch {
    branch = '';
  }
  return `${req.callId}\u0000${req.msg.cseq.seq}\u0000${branch}`;
}
