import type { IncomingRequest } from '../app/incoming-request.js';
import type { Credentials, RequestResult } from '../app/uac.js';
import type { SipApp } from '../app/app.js';
import { parseSipUriStrict, type HeaderInit, type SipRequest, type SipResponse } from '../message/index.js';
import type { ClientTransaction } from '../transaction/index.js';
import type { Destination, Flow, TransportProtocol } from '../transport/index.js';

/** The state of one dialog as one of its two ends holds it (RFC 3261 §12). */
export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our From (or To) without its tag, e.g. `"Alice" <sip:1001@gw.example>`. */
  localUri: string;
  remoteUri: string;
  /** Where requests go: the peer's Contact URI. */
  remoteTarget: string;
  /** Route header values to put on each request, in order. */
  routeSet: string[];
  localSeq: number;
  remoteSeq: number;
  /**
   * Send over this flow whatever the target says: a set behind NAT is only reachable over the
   * connection it opened (RFC 5626).
   */
  flow?: Flow;
  /** The transport toward a route or target URI that names none (default UDP, RFC 3263's fallback). */
  protocol?: TransportProtocol;
}

export interface DialogRequestOptions {
  headers?: HeaderInit;
  body?: Buffer | string;
  auth?: Credentials;
  onProvisional?: (response: SipResponse) => void;
  onTransaction?: (transaction: ClientTransaction) => void;
}

/**
 * One end of a dialog: it builds in-dialog requests (Call-ID, tags, CSeq, route set, target) and
 * follows what the peer's requests change (CSeq, target refresh). It holds no transactions of its
 * own; requests go out through the app's UAC and come in through the app's handlers.
 */
export class Dialog {
  readonly state: DialogState;
  /** Free for the owner (e.g. the B2BUA call this dialog is one leg of). */
  owner: unknown;

  constructor(private readonly app: SipApp, state: DialogState) {
    this.state = { ...state, routeSet: [...state.routeSet] };
  }

  /** The key a request's Call-ID and To tag find this dialog by. */
  get id(): string {
    return dialogId(this.state.callId, this.state.localTag);
  }

  /** The UAS end, made from the request that created the dialog and the To tag we answer with. */
  static fromIncoming(app: SipApp, req: IncomingRequest, localTag: string, options: { keepFlow?: boolean; protocol?: TransportProtocol } = {}): Dialog {
    const msg = req.msg;
    const to = msg.to.clone();
    to.tag = undefined;
    const from = msg.from.clone();
    const remoteTag = from.tag ?? '';
    from.tag = undefined;
    return new Dialog(app, {
      callId: msg.callId, localTag, remoteTag,
      localUri: to.toString(), remoteUri: from.toString(),
      remoteTarget: msg.contact?.uri.toString() ?? msg.from.uri.toString(),
      routeSet: msg.getAll('record-route'),
      localSeq: 0, remoteSeq: msg.cseq.seq,
      flow: options.keepFlow ? req.flow : undefined,
      protocol: options.protocol,
    });
  }

  /** The UAC end, made from the request we sent and a response with a To tag (1xx or 2xx). */
  static fromResponse(app: SipApp, request: SipRequest, response: SipResponse, options: { flow?: Flow; protocol?: TransportProtocol } = {}): Dialog {
    const from = request.from.clone();
    const localTag = from.tag ?? '';
    from.tag = undefined;
    const to = response.to.clone();
    const remoteTag = to.tag ?? '';
    to.tag = undefined;
    return new Dialog(app, {
      callId: request.callId, localTag, remoteTag,
      localUri: from.toString(), remoteUri: to.toString(),
      remoteTarget: response.contact?.uri.toString() ?? request.uri,
      // Record-Route as the UAC sees it is the route set reversed (§12.1.2).
      routeSet: response.getAll('record-route').reverse(),
      localSeq: request.cseq.seq, remoteSeq: 0,
      flow: options.flow, protocol: options.protocol,
    });
  }

  /** A request from the peer inside this dialog: note its CSeq and any new target (§12.2.2). */
  noteRequest(msg: SipRequest): void {
    this.state.remoteSeq = Math.max(this.state.remoteSeq, msg.cseq.seq);
    if (TARGET_REFRESH.has(msg.method)) this.noteTarget(msg);
  }

  /** A 2xx to our target-refresh request may carry a new Contact too. */
  noteTarget(msg: SipRequest | SipResponse): void {
    const contact = msg.contact;
    if (contact) this.state.remoteTarget = contact.uri.toString();
  }

  /** The remote tag learned late (the 2xx of a forked INVITE names another branch than a 1xx did). */
  setRemoteTag(tag: string): void {
    this.state.remoteTag = tag;
  }

  /** Send a request inside the dialog and wait for its final response. */
  async request(method: string, options: DialogRequestOptions = {}): Promise<RequestResult> {
    const s = this.state;
    const headers: Array<[string, string]> = s.routeSet.map((r) => ['Route', r]);
    const extra = options.headers ? (Symbol.iterator in options.headers ? [...(options.headers as Iterable<[string, string | number]>)] : Object.entries(options.headers)) : [];
    for (const [name, value] of extra) headers.push([name, String(value)]);
    // ACKs of 2xx are sent by the UAC itself, with their INVITE's number.
    const cseq = ++s.localSeq;
    const result = await this.app.request({
      method, uri: s.remoteTarget, destination: this.destination(),
      from: `${s.localUri};tag=${s.localTag}`, to: `${s.remoteUri};tag=${s.remoteTag}`,
      callId: s.callId, cseq, headers, body: options.body, auth: options.auth,
      onProvisional: options.onProvisional, onTransaction: options.onTransaction,
    });
    // A digest retry went out with a higher CSeq: later requests must number past it.
    s.localSeq = Math.max(s.localSeq, result.request.cseq.seq);
    if (result.response.status < 300 && TARGET_REFRESH.has(method)) this.noteTarget(result.response);
    if (result.flow && this.state.flow) this.state.flow = result.flow;
    return result;
  }

  /** Where the next request goes: the kept flow, else the first route, else the target (§12.2.1.1). */
  destination(): Partial<Destination> {
    const s = this.state;
    const next = parseSipUriStrict(s.routeSet.length > 0 ? stripNameAddr(s.routeSet[0]) : s.remoteTarget, 'dialog route');
    const transport = next.param('transport');
    const protocol: TransportProtocol = s.flow?.protocol
      ?? (typeof transport === 'string' ? (transport.toLowerCase() as TransportProtocol) : next.scheme === 'sips' ? 'tls' : s.protocol ?? 'udp');
    if (s.flow) return { protocol, address: s.flow.remote.address, port: s.flow.remote.port, flow: s.flow };
    return { protocol, address: next.host.replace(/^\[|\]$/g, ''), port: next.port ?? (protocol === 'tls' || protocol === 'wss' ? 5061 : 5060) };
  }
}

/** Requests that may change the remote target (RFC 3261 §12.2, RFC 3311, RFC 6665). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

export function dialogId(callId: string, localTag: string): string {
  return `${callId}\u0000${localTag}`;
}

/** `<sip:x;lr>;param` → `sip:x;lr`. */
function stripNameAddr(value: string): string {
  const start = value.indexOf('<');
  const end = value.indexOf('>', start);
  return start >= 0 && end > start ? value.slice(start + 1, end) : value.split(';')[0];
}
