import { EventEmitter } from 'node:events';
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import type { Logger } from 'pino';
import {
  SipParseError, SipRequest, SipResponse, createResponseFromPartial, parseMessage, parseVia, statusForParseError,
  validateRequest, validateResponse, type AnySipMessage, type SipMessage, DEFAULT_MAX_MESSAGE_SIZE,
} from '../message/index.js';
import { Connection, StreamConnection, WebSocketConnection } from './connection.js';
import { ConnectionPool } from './connection-pool.js';
import { isReliable, normalizeAddress, type Destination, type Endpoint, type Flow, type TransportProtocol } from './flow.js';
import type { TlsOptions } from './listeners.js';
import { connectStream, connectWebSocket, listenStreamServer, listenWebSocketServer } from './sockets.js';
import { UdpSockets, udpFlow } from './udp.js';

/** The largest UDP payload over IPv4. */
const MAX_DATAGRAM = 65_507;

export interface ListenOptions {
  protocol: TransportProtocol;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  tls?: TlsOptions;
  /** WS/WSS: the HTTP path the upgrade must ask for (default: any). */
  path?: string;
  /** WS/WSS: attach to this existing HTTP(S) server instead of opening one. */
  server?: http.Server | https.Server;
}

export interface Listener {
  readonly protocol: TransportProtocol;
  readonly local: Endpoint;
  /** TLS and WSS listeners with their own server: use a new certificate from now on (open connections keep theirs). */
  setTls?(tls: TlsOptions): void;
  close(): Promise<void>;
}

export interface TransportOptions {
  maxMessageSize?: number;
  /** Inbound connections one source address may hold at once. */
  maxConnectionsPerSource?: number;
  /** Streams silent this long are closed (the gateway's 300 s). */
  idleTimeoutMs?: number;
  /** Outbound TLS/WSS: CA to trust, client certificate. */
  tlsClient?: TlsOptions;
  logger?: Logger;
  /** Log every message sent and received at debug level. */
  sipTrace?: boolean;
  /**
   * The address to put in Via (and Call-IDs) when the listeners are bound to a wildcard
   * (0.0.0.0 or ::), which a peer cannot send to: the address peers know us by.
   */
  advertisedAddress?: string;
}

export interface TransportEvents {
  request: [request: SipRequest, flow: Flow];
  response: [response: SipResponse, flow: Flow];
  'flow-closed': [flow: Flow];
  /** A message that could not be accepted: answered with `status`, or dropped when undefined. */
  rejected: [error: SipParseError, flow: Flow, status: number | undefined];
}

export interface TransportStats {
  received: number;
  sent: number;
  rejected: number;
  dropped: number;
  connections: number;
}

/**
 * All listeners and connections of one SIP element. Incoming bytes become validated messages
 * (RFC 3581 received/rport stamped on requests; malformed requests answered 400 right here);
 * outgoing messages reuse the flow they belong to, or an open connection to the same peer.
 */
export class TransportLayer extends EventEmitter<TransportEvents> {
  readonly openListeners: Listener[] = [];
  readonly stats: TransportStats = { received: 0, sent: 0, rejected: 0, dropped: 0, connections: 0 };
  private readonly connections: ConnectionPool;
  private readonly udp: UdpSockets;
  private flowCounter = 0;
  private readonly maxMessageSize: number;
  private readonly idleTimeoutMs: number;
  private readonly maxConnectionsPerSource: number;
  /**
   * Which source addresses may talk to us at all (SIP security: a blocked attacker gets no
   * answer, not even a 400). Checked before parsing and when a connection is accepted.
   */
  sourceFilter: ((address: string) => boolean) | undefined;

  constructor(private readonly options: TransportOptions = {}) {
    super();
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxConnectionsPerSource = options.maxConnectionsPerSource ?? 64;
    this.connections = new ConnectionPool(this.maxConnectionsPerSource);
    this.udp = new UdpSockets((data, flow) => this.ingest(data, flow, false, true), () => this.stats.dropped++, this.maxMessageSize, options.logger, (address) => this.screen(address));
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  }

  async listen(opts: ListenOptions): Promise<Listener> {
    const host = opts.host ?? '127.0.0.1';
    let listener: Listener;
    switch (opts.protocol) {
      case 'udp': {
        const bound = await this.udp.bind(host, opts.port);
        listener = this.track({ protocol: 'udp', local: bound.local, close: bound.close });
        break;
      }
      case 'tcp':
      case 'tls': {
        const protocol = opts.protocol;
        const raw = { screen: (address: string) => !this.sourceFilter || this.sourceFilter(address), maxPerSource: this.maxConnectionsPerSource };
        const server = await listenStreamServer(protocol, opts.tls, host, opts.port, (socket) => this.adoptSocket(protocol, socket, true), raw);
        listener = this.track({ protocol, local: { address: host, port: server.port }, setTls: server.setTls, close: server.close });
        break;
      }
      case 'ws':
      case 'wss':
        listener = await this.listenWebSocket(opts.protocol, opts, host);
        break;
    }
    this.openListeners.push(listener);
    this.options.logger?.info({ protocol: listener.protocol, ...listener.local }, 'SIP listening');
    return listener;
  }

  /** The host and port to put in a Via (sent-by) for requests leaving over `protocol`. */
  sentBy(protocol: TransportProtocol): Endpoint {
    const l = this.openListeners.find((x) => x.protocol === protocol) ?? this.openListeners[0];
    if (!l) return { address: this.options.advertisedAddress ?? '127.0.0.1', port: 5060 };
    const wildcard = l.local.address === '0.0.0.0' || l.local.address === '::';
    return wildcard && this.options.advertisedAddress ? { address: this.options.advertisedAddress, port: l.local.port } : l.local;
  }

  /**
   * Connections leave from the address our listeners are bound to, so a peer that filters by
   * source (an allow-list, a pbx trusting its gateway) sees the address we advertise. Unbound
   * (0.0.0.0) or of another family: the system picks.
   */
  private sourceAddressFor(dest: Destination): string | undefined {
    const bound = this.openListeners.find((l) => l.protocol === dest.protocol || (dest.protocol === 'tcp' && l.protocol === 'udp'))?.local.address;
    if (!bound || bound === '0.0.0.0' || bound === '::') return undefined;
    return net.isIPv4(bound) === net.isIPv4(dest.address) ? bound : undefined;
  }

  /** The open flow with this id, if it still lives (UDP flows always do). */
  flow(id: string): Flow | undefined {
    return this.connections.get(id)?.flow;
  }

  isFlowOpen(flow: Flow): boolean {
    return flow.protocol === 'udp' || this.connections.get(flow.id) !== undefined;
  }

  /** Send a request (or a response along a known flow) to a destination. Resolves with the flow used. */
  async send(message: SipMessage, dest: Destination): Promise<Flow> {
    const data = message.toBuffer();
    if (dest.protocol === 'udp') {
      if (!(dest.port > 0 && dest.port < 65536)) throw new Error(`cannot send to UDP port ${dest.port}`);
      if (data.length > MAX_DATAGRAM) throw new Error(`message of ${data.length} octets does not fit a UDP datagram`);
      const local = await this.udp.send(data, dest.address, dest.port, dest.flow?.local);
      this.traceOut(message, dest.address, dest.port, 'udp');
      this.stats.sent++;
      return dest.flow ?? udpFlow(local, { address: dest.address, port: dest.port });
    }
    const conn = await this.connectionFor(dest);
    await conn.send(data);
    this.traceOut(message, conn.flow.remote.address, conn.flow.remote.port, conn.flow.protocol);
    this.stats.sent++;
    return conn.flow;
  }

  /**
   * Send a response back where its request came from (RFC 3261 §18.2.2, RFC 3581): over the same
   * connection for streams; for UDP to the packet's source address, at the source port when the
   * request asked for rport. Never to a host named inside the message.
   */
  async sendResponse(response: SipResponse, requestFlow: Flow): Promise<Flow | void> {
    if (isReliable(requestFlow.protocol)) {
      const conn = this.connections.get(requestFlow.id);
      if (!conn) {
        this.stats.dropped++;
        this.options.logger?.warn({ flow: requestFlow.id, status: response.status }, 'response dropped: its connection is closed');
        return;
      }
      return this.send(response, { ...requestFlow.remote, protocol: requestFlow.protocol, flow: requestFlow });
    }
    let port = requestFlow.remote.port;
    try {
      const via = parseVia(response.getAll('via')[0] ?? '');
      if (via.rport === undefined) port = via.port || 5060;
    } catch {
      // An unreadable Via: the source port is the only place left to answer.
    }
    return this.send(response, { protocol: 'udp', address: requestFlow.remote.address, port, flow: requestFlow });
  }

  /** RFC 5626 keepalive ping on a stream flow. */
  async ping(flow: Flow): Promise<void> {
    const conn = this.connections.get(flow.id);
    if (!conn) throw new Error(`flow ${flow.id} is closed`);
    await conn.ping();
  }

  closeFlow(flow: Flow): void {
    this.connections.get(flow.id)?.close();
  }

  /** Close every connection with a peer at this address (a source just blocked); returns how many. */
  closeFlowsFrom(address: string): number {
    const doomed = this.connections.all().filter((c) => c.flow.remote.address === address);
    for (const conn of doomed) conn.close();
    return doomed.length;
  }

  async close(): Promise<void> {
    for (const conn of this.connections.all()) conn.close();
    await Promise.all([...this.openListeners].map((l) => l.close()));
    await this.udp.closeAll();
  }

  /** A listener that, once closed, is forgotten: closing it twice, or the layer after it, is safe. */
  private track(listener: Listener): Listener {
    let closing: Promise<void> | undefined;
    const tracked: Listener = {
      protocol: listener.protocol,
      local: listener.local,
      setTls: listener.setTls,
      close: () => {
        const i = this.openListeners.indexOf(tracked);
        if (i >= 0) this.openListeners.splice(i, 1);
        closing ??= listener.close();
        return closing;
      },
    };
    return tracked;
  }

  // ---- ingress -------------------------------------------------------------------------------

  /** Counts a message in and asks the source filter about it; false: dropped. */
  private screen(address: string): boolean {
    this.stats.received++;
    if (!this.sourceFilter || this.sourceFilter(address)) return true;
    this.stats.dropped++;
    return false;
  }

  /** `screened`: the UDP socket asked `screen` already, before building the flow. */
  private ingest(data: Buffer, flow: Flow, framed: boolean, screened = false): void {
    if (!screened && !this.screen(flow.remote.address)) return;
    let message: AnySipMessage;
    try {
      message = parseMessage(data, { datagram: !framed });
    } catch (e) {
      this.reject(e as SipParseError, flow);
      return;
    }
    this.traceIn(message, flow);
    if (message instanceof SipResponse) {
      const err = validateResponse(message);
      if (err) return this.reject(err, flow);
      this.emit('response', message, flow);
      return;
    }
    try {
      stampReceived(message, flow);
    } catch (e) {
      return this.reject(e as SipParseError, flow, message);
    }
    const err = validateRequest(message);
    if (err) return this.reject(err, flow, message);
    this.emit('request', message, flow);
  }

  /** Answer a malformed request with 400/416/505 when it can be addressed; drop anything else. */
  private reject(error: SipParseError, flow: Flow, request?: SipRequest): void {
    this.stats.rejected++;
    const { status, reason } = statusForParseError(error);
    const warning = `399 ${this.sentBy(flow.protocol).address} "${error.message.replace(/["\\\r\n]/g, ' ')}"`;
    let response: SipResponse | undefined;
    if (request && request.method !== 'ACK') {
      response = createResponseFromPartial({ isRequest: true, fields: [...request.headers], encoding: request.headerEncoding }, status, reason, { Warning: warning });
    } else if (!request && error.partial?.isRequest && error.partial.method !== 'ACK') {
      response = createResponseFromPartial(error.partial, status, reason, { Warning: warning });
    }
    this.options.logger?.info({ flow: flow.id, error: error.message, code: error.code, answered: response?.status }, 'malformed SIP message');
    this.emit('rejected', error, flow, response?.status);
    if (response) this.sendResponse(response, flow).catch(() => this.stats.dropped++);
    else this.stats.dropped++;
  }

  // ---- TCP / TLS ----------------------------------------------------------------------------

  private adoptSocket(protocol: 'tcp' | 'tls', socket: net.Socket, inbound: boolean): StreamConnection | undefined {
    const remote = { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    if (inbound && !this.admit(remote.address)) {
      socket.destroy();
      return undefined;
    }
    socket.setNoDelay(true);
    const local = { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 };
    const conn = new StreamConnection(this.newFlow(protocol, local, remote), socket, this.idleTimeoutMs, this.maxMessageSize);
    this.register(conn, inbound);
    return conn;
  }

  // ---- connection pool ----------------------------------------------------------------------

  private connectionFor(dest: Destination): Promise<Connection> {
    return this.connections.acquire(dest, async () => {
      if (dest.protocol === 'ws' || dest.protocol === 'wss') {
        const { ws, local } = await connectWebSocket(dest, this.options.tlsClient, this.maxMessageSize);
        const conn = new WebSocketConnection(this.newFlow(dest.protocol, local, { address: dest.address, port: dest.port }), ws, this.idleTimeoutMs, this.maxMessageSize);
        this.register(conn, false);
        return conn;
      }
      return this.adoptSocket(dest.protocol as 'tcp' | 'tls', await connectStream(dest, this.options.tlsClient, this.sourceAddressFor(dest)), false)!;
    });
  }

  private async listenWebSocket(protocol: 'ws' | 'wss', opts: ListenOptions, host: string): Promise<Listener> {
    const server = await listenWebSocketServer({
      protocol, host, port: opts.port, tls: opts.tls, path: opts.path, server: opts.server, maxPayload: this.maxMessageSize,
      admit: (address) => this.admit(address),
      onConnection: (ws, local, remote) => {
        this.register(new WebSocketConnection(this.newFlow(protocol, local, remote), ws, this.idleTimeoutMs, this.maxMessageSize), true);
      },
    });
    return this.track({ protocol, local: { address: host, port: server.port }, setTls: server.setTls, close: server.close });
  }

  private register(conn: Connection, inbound: boolean): void {
    const { flow } = conn;
    this.connections.add(conn, inbound);
    this.stats.connections = this.connections.size;
    conn.on('message', (data, framed) => this.ingest(data, flow, framed));
    conn.on('framing-error', (error, pending) => this.rejectStream(conn, error, pending));
    conn.on('close', () => {
      this.stats.connections = this.connections.size;
      this.emit('flow-closed', flow);
    });
  }

  /**
   * The stream is out of step and closes: answer 400 first when the headers that arrived name
   * a sender, so the client learns why instead of seeing a bare disconnect.
   */
  private rejectStream(conn: Connection, error: SipParseError, pending: Buffer): void {
    let partial = error.partial;
    const end = pending.indexOf('\r\n\r\n');
    if (!partial && end >= 0) {
      try {
        const m = parseMessage(pending.subarray(0, end + 4), { datagram: true });
        if (m instanceof SipRequest) partial = { isRequest: true, method: m.method, fields: [...m.headers], encoding: m.headerEncoding };
      } catch (e) {
        partial = (e as SipParseError).partial;
      }
    }
    const { status, reason } = statusForParseError(error);
    const res = partial && partial.method !== 'ACK' ? createResponseFromPartial(partial, status, reason) : undefined;
    if (res) void conn.send(res.toBuffer()).catch(() => undefined);
    this.stats.rejected++;
    this.options.logger?.info({ flow: conn.flow.id, error: error.message, answered: res?.status }, 'stream out of step: closing');
    this.emit('rejected', new SipParseError(error.code, error.message, error.where, partial), conn.flow, res?.status);
  }

  private admit(address: string): boolean {
    if (this.sourceFilter && !this.sourceFilter(address)) return false;
    const ok = this.connections.admit(address);
    if (!ok) this.options.logger?.warn({ source: address }, 'connection refused: too many from this source');
    return ok;
  }

  private newFlow(protocol: TransportProtocol, local: Endpoint, remote: Endpoint): Flow {
    return { id: `${protocol}:${local.address}:${local.port}<-${remote.address}:${remote.port}#${++this.flowCounter}`, protocol, local, remote };
  }

  // ---- tracing ------------------------------------------------------------------------------

  private traceIn(message: AnySipMessage, flow: Flow): void {
    if (!this.options.sipTrace || !this.options.logger) return;
    this.options.logger.debug({ dir: 'in', flow: flow.id, sip: message.toString() }, 'SIP in');
  }

  private traceOut(message: SipMessage, address: string, port: number, protocol: TransportProtocol): void {
    if (!this.options.sipTrace || !this.options.logger) return;
    this.options.logger.debug({ dir: 'out', to: `${protocol}:${address}:${port}`, sip: message.toString() }, 'SIP out');
  }
}

/**
 * RFC 3261 §18.2.1 and RFC 3581: note where a request really came from in its top Via, so the
 * response finds its way back through NAT.
 */
function stampReceived(req: SipRequest, flow: Flow): void {
  const top = req.via;
  const needsReceived = top.host !== flow.remote.address && top.host !== `[${flow.remote.address}]`;
  const wantsRport = top.rport === null;
  if (!needsReceived && !wantsRport) return;
  const via = top.clone();
  if (needsReceived || wantsRport) via.params.set('received', flow.remote.address);
  if (wantsRport) via.params.set('rport', String(flow.remote.port));
  req.headers.removeFirstValue('via');
  req.headers.prepend('Via', via.toString());
}
