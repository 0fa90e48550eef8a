import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import { createResponse, type SipRequest } from '../message/index.js';
import { TransactionLayer, type Clock, type ServerTransaction, type TimerValues } from '../transaction/index.js';
import { TransportLayer, type Flow, type ListenOptions, type Listener, type TransportOptions } from '../transport/index.js';
import { IncomingRequest } from './incoming-request.js';
import { runChain, type Middleware, type RequestHandler } from './middleware.js';
import { OutgoingResponse } from './outgoing-response.js';
import { checkRequest, type UasPolicy } from './uas-checks.js';
import { UserAgentClient, type RequestOptions, type RequestResult } from './uac.js';

export interface SipAppOptions extends TransportOptions {
  /** Put in Server and User-Agent headers. */
  userAgent?: string;
  /**
   * Option tags this element implements (RFC 3261 §8.2.2.3): a Require naming another gets
   * 420, and these are what OPTIONS answers in Supported. Default none: only what the
   * application built on the app does, it declares.
   */
  supported?: string[];
  /**
   * A proxy (RFC 3261 §16.3): the requests it forwards carry Require for their far end, so only
   * Proxy-Require is held against `supported`; Require is checked for REGISTER alone, which a
   * registrar answers itself. A UAS (the default) checks Require and ignores Proxy-Require.
   */
  proxy?: boolean;
  /** Body types understood per method; INVITE, UPDATE and PRACK default to application/sdp. */
  accept?: Record<string, string[]>;
  timers?: Partial<TimerValues>;
  clock?: Clock;
}

export interface SipAppEvents {
  /** An ACK for a 2xx (end-to-end, outside any transaction): dialogs listen here. */
  ack: [req: IncomingRequest];
  /** A handler failed; the request was answered 500. */
  error: [error: unknown, req: IncomingRequest];
}

const ALWAYS_ALLOWED = ['OPTIONS', 'ACK', 'CANCEL'];

/**
 * A SIP element in the shape drachtio-srf users know: `app.use(mw)`, `app.register(handler)`,
 * `app.invite(handler)`... over our own transport and transaction layers. It is the UAS core of
 * RFC 3261 §8.2 (method, Require and body checks; CANCEL; OPTIONS) and a small UAC (`request`).
 */
export class SipApp extends EventEmitter<SipAppEvents> {
  readonly transport: TransportLayer;
  readonly transactions: TransactionLayer;
  readonly logger: Logger;
  private readonly middleware: Middleware[] = [];
  private readonly statelessMiddleware: Middleware[] = [];
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly policy: UasPolicy;
  private readonly uac: UserAgentClient;
  private readonly pending = new WeakMap<ServerTransaction, { req: IncomingRequest; res: OutgoingResponse }>();
  /**
   * Screens each request before any transaction state is made: returning false drops it
   * unanswered (a scanner, a flood), which is cheaper for us and tells an attacker nothing.
   */
  requestFilter: ((request: SipRequest, flow: Flow) => boolean) | undefined;

  constructor(private readonly config: SipAppOptions = {}) {
    super();
    const options = config;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.transport = new TransportLayer({ ...options, logger: this.logger });
    this.transactions = new TransactionLayer(this.transport, { clock: options.clock, timers: options.timers });
    this.policy = {
      allowed: new Set(ALWAYS_ALLOWED),
      supported: new Set((options.supported ?? []).map((t) => t.toLowerCase())),
      proxy: options.proxy ?? false,
      accept: new Map(Object.entries({ INVITE: ['application/sdp'], UPDATE: ['application/sdp'], PRACK: ['application/sdp'], ...options.accept })),
    };
    this.uac = new UserAgentClient(this.transport, this.transactions, options.userAgent ?? 'psi-lab');
    this.transport.on('request', (msg, flow) => this.onRequest(msg, flow));
    this.transport.on('response', (msg, flow) => {
      if (!this.transactions.receiveResponse(msg, flow)) this.logger.debug({ status: msg.status, callId: msg.get('call-id') }, 'response matches no transaction');
    });
    this.transactions.on('ack', (msg, flow) => this.emit('ack', new IncomingRequest(msg, flow)));
  }

  /** Add middleware for every request, or for one method: `app.use('REGISTER', mw)`. */
  use(middleware: Middleware): this;
  use(method: string, middleware: Middleware): this;
  use(a: Middleware | string, b?: Middleware): this {
    if (typeof a === 'function') this.middleware.push(a);
    else {
      const method = a.toUpperCase();
      // Middleware that may answer a method makes it one we implement.
      this.policy.allowed.add(method);
      this.middleware.push((req, res, next) => (req.method === method ? b!(req, res, next) : next()));
    }
    return this;
  }

  /**
   * Middleware that runs before any transaction exists, as Kamailio's sl module answers: what
   * it answers is sent statelessly and leaves no state behind (a challenge to a request without
   * credentials, a refusal), so a flood of such requests costs no memory. What it passes on with
   * `next()` gets its transaction and goes through `use` middleware and the handlers, with the
   * same `req` (its `locals` kept). Retransmissions of a request that already has a transaction
   * skip it. ACK and CANCEL never pass here.
   */
  useStateless(middleware: Middleware): this {
    this.statelessMiddleware.push(middleware);
    return this;
  }

  /** The handler of one method (`app.method('MESSAGE', h)`); the method then shows in Allow. */
  method(name: string, handler: RequestHandler): this {
    this.handlers.set(name.toUpperCase(), handler);
    this.policy.allowed.add(name.toUpperCase());
    return this;
  }

  register(handler: RequestHandler): this { return this.method('REGISTER', handler); }
  invite(handler: RequestHandler): this { return this.method('INVITE', handler); }
  bye(handler: RequestHandler): this { return this.method('BYE', handler); }
  options(handler: RequestHandler): this { return this.method('OPTIONS', handler); }
  message(handler: RequestHandler): this { return this.method('MESSAGE', handler); }
  info(handler: RequestHandler): this { return this.method('INFO', handler); }
  refer(handler: RequestHandler): this { return this.method('REFER', handler); }
  subscribe(handler: RequestHandler): this { return this.method('SUBSCRIBE', handler); }
  notify(handler: RequestHandler): this { return this.method('NOTIFY', handler); }
  update(handler: RequestHandler): this { return this.method('UPDATE', handler); }
  prack(handler: RequestHandler): this { return this.method('PRACK', handler); }
  publish(handler: RequestHandler): this { return this.method('PUBLISH', handler); }

  listen(options: ListenOptions): Promise<Listener> {
    return this.transport.listen(options);
  }

  /**
   * UDP and TCP on one port, as SIP elements usually listen. With port 0, a port free for both
   * (one free for TCP may be taken for UDP, so it is retried).
   */
  async listenUdpAndTcp(options: { host?: string; port: number }): Promise<[udp: Listener, tcp: Listener]> {
    for (let attempt = 0; ; attempt++) {
      const tcp = await this.listen({ protocol: 'tcp', host: options.host, port: options.port });
      try {
        return [await this.listen({ protocol: 'udp', host: options.host, port: tcp.local.port }), tcp];
      } catch (e) {
        await tcp.close();
        if (options.port !== 0 || attempt >= 20) throw e;
      }
    }
  }

  /** Send a request as a UAC and wait for its final response (answering digest challenges when given credentials). */
  request(options: RequestOptions): Promise<RequestResult> {
    return this.uac.request(options);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private onRequest(msg: SipRequest, flow: Flow): void {
    if (this.requestFilter && !this.requestFilter(msg, flow)) return;
    const stateless = this.statelessMiddleware.length > 0;
    if (stateless && msg.method === 'CANCEL' && !this.cancelsKnownInvite(msg, flow) && !this.transactions.hasServerTransaction(msg)) {
      // Nothing to cancel (or not the caller's to cancel): 481, and no transaction kept for it.
      this.transport.sendResponse(createResponse(msg, 481, { toTag: statelessTag(msg) }), flow).catch(() => undefined);
      return;
    }
    if (stateless && msg.method !== 'ACK' && msg.method !== 'CANCEL' && !this.transactions.hasServerTransaction(msg)) {
      const req = new IncomingRequest(msg, flow);
      const res = new OutgoingResponse(req, async (response) => {
        await this.transport.sendResponse(response, flow);
      }, statelessTag(msg));
      if (this.config.userAgent) res.defaultHeaders.push(['Server', this.config.userAgent]);
      res.onSendError = (error, response) => this.logger.debug({ err: error.message, status: response.status, flow: flow.id }, 'stateless response not sent');
      // RFC 3261 §8.2 first (method, Require, body type), answered statelessly too.
      const rejection = checkRequest(msg, this.policy);
      if (rejection) return void res.send(rejection.status, { headers: rejection.headers });
      runChain(this.statelessMiddleware, () => this.onStatefulRequest(msg, flow, req), req, res, (error) => this.onHandlerError(error, req, res));
      return;
    }
    this.onStatefulRequest(msg, flow);
  }

  /** A CANCEL that names an INVITE transaction of ours, sent from where that INVITE came. */
  private cancelsKnownInvite(cancel: SipRequest, flow: Flow): boolean {
    const invite = this.transactions.findInviteTransaction(cancel);
    return invite !== undefined && invite.flow.remote.address === flow.remote.address;
  }

  private onStatefulRequest(msg: SipRequest, flow: Flow, screened?: IncomingRequest): void {
    const tx = this.transactions.receiveRequest(msg, flow);
    if (!tx) return;
    if (msg.method === 'CANCEL') return this.onCancel(msg, tx);
    const req = screened ?? new IncomingRequest(msg, flow);
    const res = new OutgoingResponse(req, (response) => tx.respond(response));
    if (this.config.userAgent) res.defaultHeaders.push(['Server', this.config.userAgent]);
    res.onSendError = (error, response) => this.logger.warn({ err: error.message, status: response.status, callId: msg.get('call-id'), flow: flow.id }, 'response not sent');
    if (msg.method === 'INVITE') {
      this.pending.set(tx, { req, res });
      // A dialog needs our Contact in the 2xx (RFC 3261 §12.1.1): where in-dialog requests come.
      res.defaultHeaders.push(['Contact', localContact(msg, flow, this.config.advertisedAddress)]);
    }

    // Checked already when the request went through the stateless stage.
    const rejection = screened ? undefined : checkRequest(msg, this.policy);
    if (rejection) {
      void res.send(rejection.status, { headers: rejection.headers });
      return;
    }
    const handler = this.handlers.get(msg.method) ?? (msg.method === 'OPTIONS' ? this.answerOptions : undefined);
    runChain(this.middleware, handler, req, res, (error) => this.onHandlerError(error, req, res));
  }

  /** RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE it names if that is still unanswered. */
  private onCancel(cancel: SipRequest, tx: ServerTransaction): void {
    const inviteTx = this.transactions.findInviteTransaction(cancel);
    if (!inviteTx) {
      tx.respond(createResponse(cancel, 481)).catch(() => undefined);
      return;
    }
    tx.respond(createResponse(cancel, 200, { toTag: this.pending.get(inviteTx)?.res.toTag })).catch(() => undefined);
    const entry = this.pending.get(inviteTx);
    if (entry && !entry.res.finalResponseSent) {
      entry.req.canceled = true;
      void entry.res.send(487);
      entry.req.emit('cancel', cancel);
    }
  }

  /** What an answer to OPTIONS says this element does (Allow, Accept, Supported). */
  capabilityHeaders(): Array<[string, string]> {
    return [
      ['Allow', [...this.policy.allowed].join(', ')],
      ['Accept', 'application/sdp'],
      ...(this.policy.supported.size > 0 ? [['Supported', [...this.policy.supported].join(', ')] as [string, string]] : []),
    ];
  }

  private answerOptions: RequestHandler = (_req, res) => {
    void res.send(200, { headers: this.capabilityHeaders() });
  };

  private onHandlerError(error: unknown, req: IncomingRequest, res: OutgoingResponse): void {
    this.logger.error({ err: error, method: req.method, callId: req.get('call-id') }, 'SIP handler failed');
    if (!res.finalResponseSent && req.method !== 'ACK') void res.send(500);
    if (this.listenerCount('error') > 0) this.emit('error', error, req);
  }
}

/**
 * The To tag of a stateless answer: the same for every retransmission of the request (RFC 3261
 * §8.2.6.2), as Kamailio's sl module makes it — a keyed hash of what identifies the request —
 * and unguessable without the key.
 */
const STATELESS_TAG_KEY = randomBytes(16);
function statelessTag(req: SipRequest): string {
  let branch = '';
  try {
    branch = req.via.branch ?? '';
  } catch {
    branch = '';
  }
  return createHmac('sha256', STATELESS_TAG_KEY).update(`${req.callId}\u0000${req.from.tag ?? ''}\u0000${branch}\u0000${req.cseq.seq}`).digest('hex').slice(0, 16);
}

function localContact(req: SipRequest, flow: Flow, advertised?: string): string {
  let user: string | undefined;
  try {
    const uri = req.to.uri;
    user = 'user' in uri ? uri.user : undefined;
  } catch {
    user = undefined;
  }
  // Behind NAT or bound to 0.0.0.0 the socket's address is not the one peers know us by.
  const address = advertised ?? flow.local.address;
  const host = address.includes(':') ? `[${address}]` : address;
  const transport = flow.protocol === 'udp' ? '' : `;transport=${flow.protocol}`;
  return `<sip:${user ? `${user}@` : ''}${host}:${flow.local.port}${transport}>`;
}

