import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { StreamFramer } from '@psi-lab/sip';
import { WebSocket } from 'ws';
import type { ServerAddress } from './server-address.js';

/** How long after a ping an answer may take before the connection is given up. */
const PONG_WAIT_MS = 10_000;

export interface ConnectionEvents {
  message: [text: string];
  close: [error?: Error];
}

export interface ConnectOptions {
  /** PEM of the CA the gateway's certificate must chain to (the lab's `ca.pem`). */
  ca?: string | Buffer;
  /** Name to check the certificate against (default: the host). */
  servername?: string;
  timeoutMs?: number;
  /** Keepalive: CRLF pings on TLS/TCP (RFC 5626), ping frames on WebSocket; 0 disables. */
  keepaliveMs?: number;
}

/**
 * One connection to a gateway, carrying whole SIP messages as text: over TLS (or TCP) cut by
 * Content-Length, over a WebSocket one message a frame (RFC 7118). It keeps the NAT binding
 * open with pings, so the gateway can reach the phone back over it.
 */
export class SipConnection extends EventEmitter<ConnectionEvents> {
  private keepalive: NodeJS.Timeout | undefined;
  private closed = false;
  /** Our address on the interface that reaches the gateway: where RTP can be received. */
  localAddress = '127.0.0.1';

  private lastHeard = Date.now();

  private constructor(private readonly link: { send(data: string): void; close(): void; ping(): void; destroy(error: Error): void }, keepaliveMs: number) {
    super();
    if (keepaliveMs > 0) {
      this.keepalive = setInterval(() => {
        // Nothing at all since the last ping (not even its pong): the gateway or the path is gone.
        if (Date.now() - this.lastHeard > keepaliveMs + Math.min(PONG_WAIT_MS, keepaliveMs)) {
          link.destroy(new Error(`no answer from the gateway for ${Math.round((Date.now() - this.lastHeard) / 1000)} s`));
          return;
        }
        link.ping();
      }, keepaliveMs);
      this.keepalive.unref();
    }
  }

  /** Anything from the gateway (a message, a pong) shows the connection is alive. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  static async open(server: ServerAddress, options: ConnectOptions = {}): Promise<SipConnection> {
    return server.protocol === 'wss' || server.protocol === 'ws' ? openWebSocket(server, options) : openStream(server, options);
  }

  send(text: string): void {
    if (this.closed) throw new Error('the connection to the gateway is closed');
    this.link.send(text);
  }

  close(): void {
    this.link.close();
  }

  /** Called by the link when it ends, once. */
  ended(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    this.emit('close', error);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** For the openers below: build the connection around a link. */
  static fromLink(link: { send(data: string): void; close(): void; ping(): void; destroy(error: Error): void }, keepaliveMs: number): SipConnection {
    return new SipConnection(link, keepaliveMs);
  }
}

function servernameFor(server: ServerAddress, options: ConnectOptions): string | undefined {
  if (options.servername) return options.servername;
  // An IP address is checked against the certificate's IP names; SNI takes host names only.
  return net.isIP(server.host) ? undefined : server.host;
}

function openStream(server: ServerAddress, options: ConnectOptions): Promise<SipConnection> {
  return new Promise((resolve, reject) => {
    const onConnected = (): void => {
      socket.setTimeout(0);
      socket.off('error', reject);
      const framer = new StreamFramer();
      const conn = SipConnection.fromLink({
        send: (data) => void socket.write(data),
        close: () => {
          socket.end();
          // A peer that never answers our FIN must not keep the process alive.
          setTimeout(() => socket.destroy(), 2000).unref();
        },
        ping: () => void socket.write('\r\n\r\n'),
        destroy: (error) => socket.destroy(error),
      }, options.keepaliveMs ?? 25_000);
      socket.on('data', (chunk: Buffer) => {
        conn.heard();
        let items;
        try {
          items = framer.push(chunk);
        } catch (e) {
          socket.destroy(e as Error);
          return;
        }
        for (const item of items) {
          if (item.kind === 'message') conn.emit('message', item.data.toString('utf8'));
          // RFC 5626: the gateway may ping us too.
          else if (item.kind === 'ping') socket.write('\r\n');
        }
      });
      socket.on('error', (e) => conn.ended(e));
      socket.on('close', () => conn.ended());
      conn.localAddress = (socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
      resolve(conn);
    };
    const socket: net.Socket = server.protocol === 'tls'
      ? tls.connect({ host: server.host, port: server.port, ca: options.ca, servername: servernameFor(server, options), minVersion: 'TLSv1.2' }, onConnected)
      : net.connect({ host: server.host, port: server.port }, onConnected);
    socket.setNoDelay(true);
    socket.setTimeout(options.timeoutMs ?? 10_000, () => socket.destroy(new Error(`no connection to ${server.host}:${server.port} within ${(options.timeoutMs ?? 10_000) / 1000} s`)));
    socket.once('error', reject);
  });
}

function openWebSocket(server: ServerAddress, options: ConnectOptions): Promise<SipConnection> {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  const ws = new WebSocket(`${server.protocol}://${host}:${server.port}${server.path ?? '/'}`, 'sip', {
    ca: options.ca, minVersion: 'TLSv1.2', handshakeTimeout: options.timeoutMs ?? 10_000,
    // ws hands TLS options on to tls.connect; its typings leave this one out.
    ...({ servername: servernameFor(server, options) } as object),
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      if (ws.protocol !== 'sip') {
        ws.close();
        reject(new Error(`the server at ${server.host}:${server.port} did not accept the "sip" WebSocket subprotocol`));
        return;
      }
      const conn = SipConnection.fromLink({
        send: (data) => ws.send(data),
        close: () => {
          ws.close(1000);
          setTimeout(() => ws.terminate(), 2000).unref();
        },
        ping: () => ws.ping(),
        destroy: (error) => {
          ws.terminate();
          conn.ended(error);
        },
      }, options.keepaliveMs ?? 25_000);
      ws.on('pong', () => conn.heard());
      ws.on('message', (data) => {
        conn.heard();
        conn.emit('message', data.toString());
      });
      ws.on('error', (e) => conn.ended(e));
      ws.on('close', () => conn.ended());
      const raw = (ws as unknown as { _socket?: net.Socket })._socket;
      conn.localAddress = (raw?.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
      resolve(conn);
    });
  });
}
