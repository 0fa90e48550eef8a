import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import {
  SipParseError, SipRequest, SipResponse, createResponseFromPartial, parseMessage, parseVia, statusForParseError,
  validateRequest, validateResponse, type AnySipMessage, type SipMessage, DEFAULT_MAX_MESSAGE_SIZE,
} from '../message/index.js';
import { Connection, StreamConnection, WebSocketConnection } from './connection.js';
import { isReliable, type Destination, type Endpoint, type Flow, type TransportProtocol } from './flow.js';
import { secureContextOptions, type TlsOptions } from './listeners.js';

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
  private readonly connections = new Map<string, Connection>();
  /** `protocol:address:port` of the peer → flow id, for reuse by later sends. */
  private readonly byPeer = new Map<string, string>();
  private readonly perSource = new Map<string, number>();
  private readonly udpSockets: Array<{ socket: dgram.Socket; local: Endpoint }> = [];
  private readonly closers: Array<() => Promise<void>> = [];
  private flowCounter = 0;
  private readonly maxMessageSize: number;
  private readonly maxPerSource: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: TransportOptions = {}) {
    super();
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxPerSource = options.maxConnectionsPerSource ?? 64;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  }

  async listen(opts: ListenOptions): Promise<Listener> {
    const host = opts.host ?? '127.0.0.1';
    let listener: Listener;
    switch (opts.protocol) {
      case 'udp':
        listener = await this.listenUdp(host, opts.port);
        break;
      case 'tcp':
        listener = await this.listenStream('tcp', net.createServer(), host, opts.port);
        break;
      case 'tls':
        listener = await this.listenStream('tls', tls.createServer(secureContextOptions(opts.tls, 'TLS listener')), host, opts.port);
        break;
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
    return l ? l.local : { address: '127.0.0.1', port: 5060 };
  }

  /** The open flow with this id, if it still lives (UDP flows always do). */
  flow(id: string): Flow | undefined {
    return this.connections.get(id)?.flow;
  }

  isFlowOpen(flow: Flow): boolean {
    return flow.protocol === 'udp' || this.connections.has(flow.id);
  }

  /** Send a request (or a response along a known flow) to a destination. Resolves with the flow used. */
  async send(message: SipMessage, dest: Destination): Promise<Flow> {
    const data = message.toBuffer();
    if (dest.protocol === 'udp') {
      if (!(dest.port > 0 && dest.port < 65536)) throw new Error(`cannot send to UDP port ${dest.port}`);
      if (data.length > MAX_DATAGRAM) throw new Error(`message of ${data.length} octets does not fit a UDP datagram`);
      const local = dest.flow?.local;
      const sock = this.udpSocketFor(local);
      await new Promise<void>((resolve, reject) => sock.socket.send(data, dest.port, dest.address, (e) => (e ? reject(e) : resolve())));
      this.traceOut(message, dest.address, dest.port, 'udp');
      this.stats.sent++;
      return dest.flow ?? this.udpFlow(sock.local, { address: dest.address, port: dest.port });
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

  async close(): Promise<void> {
    for (const conn of [...this.connections.values()]) conn.close();
    await Promise.all([...this.openListeners].map((l) => l.close()));
    await Promise.all(this.closers.map((c) => c()));
    this.closers.length = 0;
  }

  /** A listener that, once closed, is forgotten: closing it twice, or the layer after it, is safe. */
  private track(listener: Listener): Listener {
    let closing: Promise<void> | undefined;
    const tracked: Listener = {
      protocol: listener.protocol,
      local: listener.local,
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

  private ingest(data: Buffer, flow: Flow, framed: boolean): void {
    this.stats.received++;
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

  // ---- UDP ----------------------------------------------------------------------------------

  private async listenUdp(host: string, port: number): Promise<Listener> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const local = { address: host, port: socket.address().port };
    try {
      // Bursts (registration storms, load tests) must not be lost in a small kernel buffer.
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // the kernel's limit stands
    }
    this.attachUdp(socket, local);
    const close = () => new Promise<void>((resolve) => {
      const i = this.udpSockets.findIndex((s) => s.socket === socket);
      if (i >= 0) this.udpSockets.splice(i, 1);
      socket.close(() => resolve());
    });
    return this.track({ protocol: 'udp', local, close });
  }

  private attachUdp(socket: dgram.Socket, local: Endpoint): void {
    this.udpSockets.push({ socket, local });
    socket.on('error', (e) => this.options.logger?.warn({ err: e.message, ...local }, 'UDP socket error'));
    socket.on('message', (data, rinfo) => {
      if (data.length > this.maxMessageSize) {
        this.stats.dropped++;
        return;
      }
      // A lone CRLF keepalive on UDP carries no message.
      if (data.length <= 4 && data.toString().trim() === '') return;
      this.ingest(data, this.udpFlow(local, { address: rinfo.address, port: rinfo.port }), false);
    });
  }

  private udpSocketFor(local: Endpoint | undefined): { socket: dgram.Socket; local: Endpoint } {
    const match = local && this.udpSockets.find((s) => s.local.port === local.port && s.local.address === local.address);
    if (match) return match;
    if (this.udpSockets.length > 0) return this.udpSockets[0];
    // A client with no UDP listener: an ephemeral socket, which also receives the responses.
    const socket = dgram.createSocket('udp4');
    socket.bind(0, '127.0.0.1');
    const entry = { socket, local: { address: '127.0.0.1', port: 0 } };
    socket.once('listening', () => {
      entry.local.port = socket.address().port;
    });
    this.attachUdp(socket, entry.local);
    this.udpSockets.pop();
    this.udpSockets.push(entry);
    this.closers.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return entry;
  }

  private udpFlow(local: Endpoint, remote: Endpoint): Flow {
    return { id: `udp:${local.address}:${local.port}<-${remote.address}:${remote.port}`, protocol: 'udp', local, remote };
  }

  // ---- TCP / TLS ----------------------------------------------------------------------------

  private async listenStream(protocol: 'tcp' | 'tls', server: net.Server, host: string, port: number): Promise<Listener> {
    const event = protocol === 'tls' ? 'secureConnection' : 'connection';
    server.on(event, (socket: net.Socket) => this.adoptSocket(protocol, socket, true));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as net.AddressInfo;
    const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    return this.track({ protocol, local: { address: host, port: addr.port }, close });
  }

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

  private async connectStream(dest: Destination): Promise<Connection> {
    const protocol = dest.protocol as 'tcp' | 'tls';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = protocol === 'tls'
        ? tls.connect({
          host: dest.address, port: dest.port, ...secureContextOptions(this.options.tlsClient, 'TLS client'),
          rejectUnauthorized: this.options.tlsClient?.rejectUnauthorized ?? true,
          servername: net.isIP(dest.address) ? undefined : dest.address,
        }, () => resolve(s))
        : net.connect({ host: dest.address, port: dest.port }, () => resolve(s));
      s.once('error', reject);
    });
    socket.removeAllListeners('error');
    return this.adoptSocket(protocol, socket, false)!;
  }

  // ---- WS / WSS -----------------------------------------------------------------------------

  private async listenWebSocket(protocol: 'ws' | 'wss', opts: ListenOptions, host: string): Promise<Listener> {
    let server = opts.server;
    const own = !server;
    server ??= protocol === 'wss' ? https.createServer(secureContextOptions(opts.tls, 'WSS listener')) : http.createServer();
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.maxMessageSize,
      handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false),
    });
    server.on('upgrade', (req, duplex, head) => {
      const socket = duplex as net.Socket;
      if (opts.path && req.url?.split('?')[0] !== opts.path) return;
      const remoteAddress = normalizeAddress(socket.remoteAddress);
      if (!this.admit(remoteAddress)) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const remote = { address: remoteAddress, port: socket.remotePort ?? 0 };
        const local = { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 };
        this.register(new WebSocketConnection(this.newFlow(protocol, local, remote), ws, this.idleTimeoutMs, this.maxMessageSize), true);
      });
    });
    if (own) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
    const port = (server.address() as net.AddressInfo).port;
    const close = async () => {
      wss.close();
      if (own) await new Promise<void>((resolve) => server.close(() => resolve()));
    };
    return this.track({ protocol, local: { address: host, port }, close });
  }

  private async connectWebSocket(dest: Destination): Promise<Connection> {
    const scheme = dest.protocol === 'wss' ? 'wss' : 'ws';
    const host = net.isIPv6(dest.address) ? `[${dest.address}]` : dest.address;
    const tlsOpts = dest.protocol === 'wss' ? secureContextOptions(this.options.tlsClient, 'WSS client') : {};
    const ws = new WebSocket(`${scheme}://${host}:${dest.port}${dest.path ?? '/'}`, 'sip', {
      ...tlsOpts,
      rejectUnauthorized: this.options.tlsClient?.rejectUnauthorized ?? true,
      maxPayload: this.maxMessageSize,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.removeAllListeners('error');
    const raw = (ws as unknown as { _socket: net.Socket })._socket;
    const local = { address: normalizeAddress(raw.localAddress), port: raw.localPort ?? 0 };
    const conn = new WebSocketConnection(this.newFlow(dest.protocol, local, { address: dest.address, port: dest.port }), ws, this.idleTimeoutMs, this.maxMessageSize);
    this.register(conn, false);
    return conn;
  }

  // ---- connection pool ----------------------------------------------------------------------

  private async connectionFor(dest: Destination): Promise<Connection> {
    if (dest.flow) {
      const existing = this.connections.get(dest.flow.id);
      if (existing) return existing;
    }
    const id = this.byPeer.get(peerKey(dest.protocol, dest.address, dest.port));
    const pooled = id ? this.connections.get(id) : undefined;
    if (pooled) return pooled;
    return dest.protocol === 'ws' || dest.protocol === 'wss' ? this.connectWebSocket(dest) : this.connectStream(dest);
  }

  private register(conn: Connection, inbound: boolean): void {
    const { flow } = conn;
    const key = peerKey(flow.protocol, flow.remote.address, flow.remote.port);
    this.connections.set(flow.id, conn);
    this.byPeer.set(key, flow.id);
    this.stats.connections = this.connections.size;
    conn.on('message', (data, framed) => this.ingest(data, flow, framed));
    conn.on('framing-error', (error, pending) => this.rejectStream(conn, error, pending));
    conn.on('close', () => {
      this.connections.delete(flow.id);
      if (this.byPeer.get(key) === flow.id) this.byPeer.delete(key);
      if (inbound) this.release(flow.remote.address);
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
    const n = this.perSource.get(address) ?? 0;
    if (n >= this.maxPerSource) {
      this.options.logger?.warn({ source: address, limit: this.maxPerSource }, 'connection refused: too many from this source');
      return false;
    }
    this.perSource.set(address, n + 1);
    return true;
  }

  private release(address: string): void {
    const n = (this.perSource.get(address) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(address);
    else this.perSource.set(address, n);
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

function peerKey(protocol: TransportProtocol, address: string, port: number): string {
  return `${protocol}:${address}:${port}`;
}

function normalizeAddress(address: string | undefined): string {
  if (!address) return '0.0.0.0';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
