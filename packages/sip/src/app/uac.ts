import { answerChallenge, pickChallenge, type DigestAlgorithm } from '../digest/index.js';
import {
  SipRequest, newBranch, newCallId, newTag, parseSipUriStrict, type HeaderInit, type SipResponse,
} from '../message/index.js';
import type { ClientTransaction, TransactionLayer } from '../transaction/index.js';
import { viaTransport, type Destination, type Flow, type TransportLayer, type TransportProtocol } from '../transport/index.js';

export interface Credentials {
  username: string;
  password?: string;
  /** The stored secret instead of the password (how PSI clients get their credentials). */
  ha1?: string;
  /** The algorithm `ha1` was computed with (default MD5); only its challenges can be answered. */
  algorithm?: DigestAlgorithm;
}

export interface RequestOptions {
  method: string;
  /** Request-URI, e.g. `sip:1001@127.0.0.1:5060;transport=tcp`. */
  uri: string;
  /** Where to send; default: the URI's host, port and transport parameter. */
  destination?: Partial<Destination>;
  from?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  headers?: HeaderInit;
  body?: Buffer | string;
  auth?: Credentials;
  /** Called for each provisional response. */
  onProvisional?: (response: SipResponse) => void;
  /** Called with each client transaction started (e.g. to `cancel()` a ringing INVITE). */
  onTransaction?: (transaction: ClientTransaction) => void;
}

export interface RequestResult {
  request: SipRequest;
  response: SipResponse;
  flow: Flow | undefined;
}

/**
 * The client half of the application API: builds a request with fresh Via, tags and Call-ID,
 * sends it in a client transaction, and retries once with digest credentials on 401/407
 * (RFC 3261 §22.2). For INVITE a 2xx is acknowledged here.
 */
export class UserAgentClient {
  constructor(private readonly transport: TransportLayer, private readonly transactions: TransactionLayer, private readonly userAgent: string) {}

  async request(options: RequestOptions): Promise<RequestResult> {
    const destination = this.destinationFor(options);
    let request = this.build(options, destination, options.cseq ?? 1);
    let result = await this.exchange(request, destination, options);
    const status = result.response.status;
    if ((status === 401 || status === 407) && options.auth) {
      const header = status === 401 ? 'www-authenticate' : 'proxy-authenticate';
      const prefer: DigestAlgorithm[] | undefined = options.auth.ha1 && !options.auth.password ? [options.auth.algorithm ?? 'MD5'] : undefined;
      const challenge = pickChallenge(result.response.headers.getLines(header), prefer);
      if (challenge) {
        request = this.build(options, { ...destination, flow: result.flow }, request.cseq.seq + 1, request);
        request.set(status === 401 ? 'Authorization' : 'Proxy-Authorization', answerChallenge({
          challenge, method: request.method, uri: request.uri, username: options.auth.username,
          password: options.auth.password, ha1: options.auth.ha1,
        }));
        result = await this.exchange(request, { ...destination, flow: result.flow }, options);
      }
    }
    return result;
  }

  private exchange(request: SipRequest, destination: Destination, options: RequestOptions): Promise<RequestResult> {
    return new Promise((resolve, reject) => {
      const tx = this.transactions.sendRequest(request, destination);
      options.onTransaction?.(tx);
      tx.on('provisional', (res) => options.onProvisional?.(res));
      tx.on('final', (response, flow) => {
        if (request.method === 'INVITE' && response.status < 300) this.ack(request, response, { ...destination, flow });
        resolve({ request, response, flow });
      });
      tx.on('timeout', () => reject(new Error(`${request.method} ${request.uri}: no final response (timeout, 408)`)));
      tx.on('transport-error', (error) => reject(new Error(`${request.method} ${request.uri}: transport error: ${error.message}`)));
    });
  }

  /** The ACK for a 2xx is a request of its own, end to end (RFC 3261 §13.2.2.4). */
  private ack(invite: SipRequest, response: SipResponse, destination: Destination): void {
    const contact = response.contact?.uri.toString() ?? invite.uri;
    const ack = new SipRequest('ACK', contact, [
      ['Via', this.via(destination.protocol)],
      ['Max-Forwards', 70],
      ['From', invite.get('from')!],
      ['To', response.get('to')!],
      ['Call-ID', invite.callId],
      ['CSeq', `${invite.cseq.seq} ACK`],
    ]);
    // The ACK follows the INVITE's route (RFC 3261 §13.2.2.4: the same Route set).
    for (const route of invite.getAll('route')) ack.append('Route', route);
    this.transport.send(ack, destination).catch(() => undefined);
  }

  private build(options: RequestOptions, destination: Destination, cseq: number, previous?: SipRequest): SipRequest {
    const sentBy = this.transport.sentBy(destination.protocol);
    const target = parseSipUriStrict(options.uri, 'Request-URI');
    const fromUri = target.user ? `sip:${target.user}@${sentBy.address}` : `sip:psi-lab@${sentBy.address}`;
    const req = new SipRequest(options.method, options.uri, [
      ['Via', this.via(destination.protocol)],
      ['Max-Forwards', 70],
      ['From', previous?.get('from') ?? (options.from?.includes(';tag=') ? options.from : `${options.from ?? `<${fromUri}>`};tag=${newTag()}`)],
      ['To', options.to ?? `<${options.uri}>`],
      ['Call-ID', previous?.callId ?? options.callId ?? newCallId(sentBy.address)],
      ['CSeq', `${cseq} ${options.method}`],
    ], options.body);
    const extra = options.headers ? (Symbol.iterator in options.headers ? [...(options.headers as Iterable<[string, string | number]>)] : Object.entries(options.headers)) : [];
    // A User-Agent given with the request (a relay passing one on, a test posing as a phone) replaces ours.
    if (!extra.some(([name]) => name.toLowerCase() === 'user-agent')) req.append('User-Agent', this.userAgent);
    for (const [name, value] of extra) req.append(name, String(value));
    if (options.body !== undefined && !req.has('content-type')) req.set('Content-Type', 'application/sdp');
    return req;
  }

  private via(protocol: TransportProtocol): string {
    const sentBy = this.transport.sentBy(protocol);
    return `SIP/2.0/${viaTransport(protocol)} ${sentBy.address}:${sentBy.port};branch=${newBranch()};rport`;
  }

  private destinationFor(options: RequestOptions): Destination {
    const uri = parseSipUriStrict(options.uri, 'Request-URI');
    const transportParam = uri.param('transport');
    const protocol: TransportProtocol = options.destination?.protocol
      ?? (uri.scheme === 'sips' ? 'tls' : typeof transportParam === 'string' ? (transportParam.toLowerCase() as TransportProtocol) : 'udp');
    const secure = protocol === 'tls' || protocol === 'wss';
    return {
      protocol,
      address: options.destination?.address ?? uri.host,
      port: options.destination?.port ?? uri.port ?? (secure ? 5061 : 5060),
      path: options.destination?.path,
      flow: options.destination?.flow,
    };
  }
}
