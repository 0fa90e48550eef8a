import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** How long answers still being written may take once closing starts. */
const CLOSE_GRACE_MS = 2_000;

/**
 * What server.close() alone would wait for, possibly for ever: connections that finished
 * their handshake but sent no request (the HTTP layer stops timing them out once closed),
 * handshakes in progress, and answers still being written. Upgraded (WSS) connections are
 * never touched: closeAllConnections() no longer sees them.
 */
export class ConnectionTracker {
  /** Raw sockets whose TLS handshake has not completed, by remote address and port. */
  private readonly handshaking = new Map<string, Socket>();
  /** Connections with an answer in progress, and how many (pipelining). */
  private readonly busy = new Map<Socket, number>();
  private closing = false;

  constructor(private readonly server: HttpServer) {
    server.on('connection', (socket: Socket) => {
      const key = remoteKey(socket);
      this.handshaking.set(key, socket);
      socket.once('close', () => this.handshaking.delete(key));
    });
    server.on('secureConnection', (socket: TLSSocket) => this.handshaking.delete(remoteKey(socket)));
  }

  /** Runs `handle` for one request, counting its connection as busy until the answer is done. */
  track(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
    const socket = req.socket;
    this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1);
    res.once('close', () => this.answered(socket));
    // An answer begun while closing must not keep its connection alive afterwards.
    if (this.closing) res.setHeader('connection', 'close');
    handle();
  }

  /** Closes what the HTTP layer owns: idle connections now, busy ones once answered. */
  closeAll(): void {
    this.closing = true;
    for (const socket of this.handshaking.values()) socket.destroy();
    this.handshaking.clear();
    if (this.busy.size === 0) {
      this.server.closeAllConnections();
      return;
    }
    this.server.closeIdleConnections();
    setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  }

  private answered(socket: Socket): void {
    const left = (this.busy.get(socket) ?? 1) - 1;
    if (left > 0) {
      this.busy.set(socket, left);
      return;
    }
    if (!this.closing) {
      this.busy.delete(socket);
      return;
    }
    // end() lets the answer flush; cutting the remaining connections must wait until it has.
    const done = (): void => {
      this.busy.delete(socket);
      if (this.busy.size === 0) this.server.closeAllConnections();
    };
    if (socket.destroyed) {
      done();
      return;
    }
    socket.once('close', done);
    socket.end();
  }
}

function remoteKey(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
