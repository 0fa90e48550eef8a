import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { StreamFramer, SipParseError } from '../message/index.js';
import type { Flow } from './flow.js';

export interface ConnectionEvents {
  /** One complete SIP message (framed for streams, one WebSocket message for WS). */
  message: [data: Buffer, framed: boolean];
  /** The stream is out of step and about to close; `pending` is what arrived, for a 400. */
  'framing-error': [error: SipParseError, pending: Buffer];
  ping: [];
  pong: [];
  close: [];
}

/**
 * A connection-oriented flow: TCP, TLS, WS or WSS. It frames incoming bytes into messages,
 * answers RFC 5626 CRLF pings, and closes itself after `idleTimeoutMs` without traffic.
 */
export abstract class Connection extends EventEmitter<ConnectionEvents> {
  closed = false;
  lastActivity = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(readonly flow: Flow, private readonly idleTimeoutMs: number) {
    super();
    this.armIdleTimer();
  }

  abstract send(data: Buffer): Promise<void>;
  /** Send an RFC 5626 keepalive ping (double CRLF). */
  abstract ping(): Promise<void>;
  protected abstract destroy(): void;

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.destroy();
    this.emit('close');
  }

  protected touch(): void {
    this.lastActivity = Date.now();
  }

  private armIdleTimer(): void {
    if (this.idleTimeoutMs <= 0) return;
    const check = (): void => {
      if (this.closed) return;
      const idle = Date.now() - this.lastActivity;
      if (idle >= this.idleTimeoutMs) this.close();
      else this.idleTimer = setTimeout(check, this.idleTimeoutMs - idle).unref();
    };
    this.idleTimer = setTimeout(check, this.idleTimeoutMs).unref();
  }
}

/** TCP or TLS: a byte stream framed by Content-Length. */
export class StreamConnection extends Connection {
  private readonly framer: StreamFramer;

  constructor(flow: Flow, private readonly socket: Socket, idleTimeoutMs: number, maxMessageSize: number) {
    super(flow, idleTimeoutMs);
    this.framer = new StreamFramer(maxMessageSize);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
  }

  send(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`flow ${this.flow.id} is closed`));
    this.touch();
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  ping(): Promise<void> {
    return this.send(Buffer.from('\r\n\r\n'));
  }

  protected destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.touch();
    let items;
    try {
      items = this.framer.push(chunk);
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      this.emit('framing-error', e, this.framer.pending());
      // end(), not destroy(): a 400 written by a 'framing-error' listener still goes out first.
      this.socket.end();
      this.socket.destroySoon?.();
      setTimeout(() => this.close(), 2000).unref();
      this.socket.removeAllListeners('data');
      return;
    }
    for (const item of items) {
      if (this.closed) return;
      if (item.kind === 'message') this.emit('message', item.data, true);
      else if (item.kind === 'ping') {
        this.socket.write('\r\n');
        this.emit('ping');
      } else this.emit('pong');
    }
  }
}

/** WS or WSS (RFC 7118): each WebSocket message carries exactly one SIP message. */
export class WebSocketConnection extends Connection {
  constructor(flow: Flow, private readonly ws: WebSocket, idleTimeoutMs: number, private readonly maxMessageSize: number) {
    super(flow, idleTimeoutMs);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => this.onMessage(data));
    ws.on('error', () => this.close());
    ws.on('close', () => this.close());
    ws.on('ping', () => this.touch());
  }

  send(data: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`flow ${this.flow.id} is closed`));
    this.touch();
    return new Promise((resolve, reject) => {
      // SIP over WebSocket is text (RFC 7118 §5.3 allows either; browsers' SIP.js expects text).
      this.ws.send(data.toString(), (err) => (err ? reject(err) : resolve()));
    });
  }

  ping(): Promise<void> {
    this.ws.ping();
    return Promise.resolve();
  }

  protected destroy(): void {
    this.ws.terminate();
  }

  private onMessage(data: Buffer | ArrayBuffer | Buffer[]): void {
    this.touch();
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (buf.length > this.maxMessageSize) {
      this.emit('framing-error', new SipParseError('too-large', `message of ${buf.length} octets exceeds ${this.maxMessageSize}`, 'websocket'), Buffer.alloc(0));
      return;
    }
    // A WebSocket keepalive may also be a bare CRLF (some clients send them).
    if (buf.length <= 4 && buf.toString().trim() === '') {
      if (buf.length === 4) void this.send(Buffer.from('\r\n')).catch(() => undefined);
      return;
    }
    this.emit('message', buf, false);
  }
}
