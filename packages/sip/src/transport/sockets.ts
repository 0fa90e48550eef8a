import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { normalizeAddress, type Destination, type Endpoint } from './flow.js';
import { secureContextOptions, serverSecureContext, serverTlsOptions, type TlsOptions } from './listeners.js';
import { capConnectionsPerSource } from './source-limit.js';

/**
 * The socket plumbing under the transport layer: opening listeners and outbound connections for
 * TCP, TLS, WS and WSS. No SIP here; the layer turns what these yield into flows.
 */

export interface OpenServer {
  port: number;
  /** TLS servers: take a new certificate for the connections that follow (hot reload). */
  setTls?(tls: TlsOptions): void;
  close(): Promise<void>;
}

/** What a TLS server checks on the raw connection, before any handshake work is done for it. */
export interface RawAdmission {
  /** False: the source may not connect at all (blocked, black-listed). */
  screen(address: string): boolean;
  /** Connections one source may hold, handshakes in progress included. */
  maxPerSource: number;
}

/**
 * Listen with a TCP or TLS server; `onSocket` gets each accepted (for TLS: handshaken) socket.
 * A TLS server applies `raw` to the TCP connection first: a blocked source, or one over its cap,
 * costs no handshake.
 */
export async function listenStreamServer(protocol: 'tcp' | 'tls', tlsOptions: TlsOptions | undefined, host: string, port: number, onSocket: (socket: net.Socket) => void, raw?: RawAdmission): Promise<OpenServer> {
  const server = protocol === 'tls' ? tls.createServer(serverTlsOptions(tlsOptions, 'TLS listener')) : net.createServer();
  if (protocol === 'tls' && raw) {
    server.prependListener('connection', (socket: net.Socket) => {
      if (!raw.screen(normalizeAddress(socket.remoteAddress))) socket.destroy();
    });
    capConnectionsPerSource(server, raw.maxPerSource);
  }
  server.on(protocol === 'tls' ? 'secureConnection' : 'connection', onSocket);
  // A failed handshake (scanner, old TLS version, a half-open one past handshakeTimeout)
  // concerns that client only; node:tls reports it but leaves the socket open: close it.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  await listenOn(server, port, host);
  return {
    port: (server.address() as net.AddressInfo).port,
    setTls: server instanceof tls.Server ? (options) => server.setSecureContext(serverSecureContext(options, 'TLS listener')) : undefined,
    close: () => closeServer(server),
  };
}

/** `localAddress`: the address to connect from (the one our listeners advertise), when bound to one. */
export function connectStream(dest: Destination, tlsClient: TlsOptions | undefined, localAddress?: string): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const s = dest.protocol === 'tls'
      ? tls.connect({
        host: dest.address, port: dest.port, ...secureContextOptions(tlsClient, 'TLS client'),
        // tls.connect passes socket.connect() options through; its typings omit this one.
        ...({ localAddress } as object),
        rejectUnauthorized: tlsClient?.rejectUnauthorized ?? true,
        servername: net.isIP(dest.address) ? undefined : dest.address,
      }, () => done(s))
      : net.connect({ host: dest.address, port: dest.port, localAddress }, () => done(s));
    const done = (socket: net.Socket): void => {
      socket.removeListener('error', reject);
      resolve(socket);
    };
    s.once('error', reject);
  });
}

export interface WebSocketServerOptions {
  protocol: 'ws' | 'wss';
  host: string;
  port: number;
  tls?: TlsOptions;
  /** Only upgrades to this path (default: any). */
  path?: string;
  /** An existing HTTP(S) server to share (the gateway's status page, say). */
  server?: http.Server | https.Server;
  maxPayload: number;
  /** Refuse the upgrade when this says no (connection limits). */
  admit(remoteAddress: string): boolean;
  onConnection(ws: WebSocket, local: Endpoint, remote: Endpoint): void;
}

/** Accept SIP over WebSocket (RFC 7118): the `sip` subprotocol is required. */
export async function listenWebSocketServer(opts: WebSocketServerOptions): Promise<OpenServer> {
  const own = !opts.server;
  const server = opts.server ?? (opts.protocol === 'wss' ? https.createServer(serverTlsOptions(opts.tls, 'WSS listener')) : http.createServer());
  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayload, handleProtocols: (protocols) => (protocols.has('sip') ? 'sip' : false) });
  server.on('upgrade', (req, duplex, head) => {
    const socket = duplex as net.Socket;
    if (opts.path && req.url?.split('?')[0] !== opts.path) {
      // Another upgrade listener of a shared server may want it; with none, an unanswered
      // upgrade would hold its connection until the peer gives up.
      if (server.listenerCount('upgrade') === 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim().toLowerCase());
    const remote = { address: normalizeAddress(socket.remoteAddress), port: socket.remotePort ?? 0 };
    if (!offered.includes('sip') || !opts.admit(remote.address)) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      opts.onConnection(ws, { address: normalizeAddress(socket.localAddress), port: socket.localPort ?? 0 }, remote);
    });
  });
  if (own) await listenOn(server, opts.port, opts.host);
  return {
    port: (server.address() as net.AddressInfo).port,
    setTls: own && server instanceof https.Server ? (options) => server.setSecureContext(serverSecureContext(options, 'WSS listener')) : undefined,
    close: async () => {
      wss.close();
      if (own) await closeServer(server);
    },
  };
}

export async function connectWebSocket(dest: Destination, tlsClient: TlsOptions | undefined, maxPayload: number): Promise<{ ws: WebSocket; local: Endpoint }> {
  const scheme = dest.protocol === 'wss' ? 'wss' : 'ws';
  const host = net.isIPv6(dest.address) ? `[${dest.address}]` : dest.address;
  const ws = new WebSocket(`${scheme}://${host}:${dest.port}${dest.path ?? '/'}`, 'sip', {
    ...(dest.protocol === 'wss' ? secureContextOptions(tlsClient, 'WSS client') : {}),
    rejectUnauthorized: tlsClient?.rejectUnauthorized ?? true,
    maxPayload,
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      ws.removeListener('error', reject);
      resolve();
    });
    ws.once('error', reject);
  });
  const raw = (ws as unknown as { _socket: net.Socket })._socket;
  return { ws, local: { address: normalizeAddress(raw.localAddress), port: raw.localPort ?? 0 } };
}

function listenOn(server: net.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
