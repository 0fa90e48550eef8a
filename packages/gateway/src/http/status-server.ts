import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext, type SecureVersion } from 'node:tls';
import type { Logger } from 'pino';
import type { GatewayStatus } from '../status/types.js';
import { ConnectionTracker } from './connection-tracker.js';
import { createStatusRequestHandler, type Unblock } from './routes.js';

/** A PEM certificate (chain) and its private key. */
export interface StatusServerTls {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface StatusServerOptions {
  host: string;
  /** 0 for any free port (then read `StatusServer.port`). */
  port: number;
  tls: StatusServerTls;
  /** The snapshot the page, the JSON API and /metrics show; called once per request. */
  status: () => GatewayStatus;
  /** When set, `/` and `/api/*` want `Authorization: Bearer <token>` or Basic with it as password. */
  adminToken?: string;
  logger?: Logger;
  /** Lifts a block; false when nothing was blocked. Without it DELETE /api/blocks/… answers 501. */
  unblock?: Unblock;
  /** Milliseconds since the epoch, for uptime; default Date.now. */
  now?: () => number;
}

export interface StatusServer {
  /**
   * The HTTPS server. The gateway attaches its WebSocket upgrade handler (SIP over WSS) to it;
   * upgraded connections are that handler's to close.
   */
  server: Server;
  /** The port listened on (the real one when 0 was asked for). */
  port: number;
  /**
   * Serves a new certificate and key to connections made from now on; open connections keep
   * theirs. Throws, keeping the current certificate, when the pair is not usable.
   */
  setCertificate(tls: StatusServerTls): void;
  /**
   * Stops listening and closes every HTTP connection: idle keep-alive ones, ones that sent no
   * request, handshakes in progress; answers being written finish first (2 s at most).
   * Upgraded (WSS) connections are left to their handler: close() resolves once they too are
   * closed, so the gateway closes them as well.
   */
  close(): Promise<void>;
}

const MIN_TLS_VERSION: SecureVersion = 'TLSv1.2';

/**
 * The gateway's HTTPS operations server: status page, JSON API, /metrics and /healthz, on the
 * same port as SIP over WSS. TLS 1.2 at least.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const { host, port, tls, logger } = options;
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: MIN_TLS_VERSION });
  const connections = new ConnectionTracker(server);
  const handleRequest = createStatusRequestHandler({ ...options, now: options.now ?? Date.now });
  server.on('request', (req, res) => connections.track(req, res, () => handleRequest(req, res)));
  server.on('tlsClientError', (error, socket) => {
    // Scanners and old clients fail their handshakes all day: worth a debug line, no more.
    logger?.debug({ err: error, remote: `${socket.remoteAddress}:${socket.remotePort}` }, 'status server: TLS handshake failed');
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`status server: cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger?.error({ err: error }, 'status server: server error'));
  const listening = (server.address() as AddressInfo).port;
  logger?.info({ host, port: listening }, 'status server listening');

  let closed: Promise<void> | undefined;
  return {
    server,
    port: listening,
    setCertificate(next) {
      const context = { cert: next.cert, key: next.key, minVersion: MIN_TLS_VERSION };
      try {
        // Tried alone first: setSecureContext would already have taken some fields when it throws.
        createSecureContext(context);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`status server: the new certificate and key are not usable, keeping the current ones: ${reason}`, { cause: error });
      }
      server.setSecureContext(context);
      logger?.info('status server: certificate reloaded');
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        connections.closeAll();
      });
      return closed;
    },
  };
}
