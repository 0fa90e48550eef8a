import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { capConnectionsPerSource, normalizeAddress, serverSecureContext, serverTlsOptions } from '@psi-lab/sip';
import type { Logger } from 'pino';
import { ConnectionTracker } from './connection-tracker.js';

/** A PEM certificate (chain) and its private key. */
export interface HttpsServerTls {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface HttpsServerOptions {
  /** What the server is, in its log lines ("admin server", "WSS server"). */
  name: string;
  host: string;
  /** 0 for any free port (then read `HttpsServer.port`). */
  port: number;
  tls: HttpsServerTls;
  /** Every request that is not a WebSocket upgrade. */
  onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  /** Open connections one source address may hold (WebSocket connections and handshakes included). */
  maxConnectionsPerSource: number;
  /** Checked on the raw connection, before any TLS work: false closes it (a blocked source). */
  admitSource?: (address: string) => boolean;
  logger?: Logger;
}

export interface HttpsServer {
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
  setCertificate(tls: HttpsServerTls): void;
  /**
   * Stops listening and closes every HTTP connection: idle keep-alive ones, ones that sent no
   * request, handshakes in progress; answers being written finish first (2 s at most).
   * Upgraded (WSS) connections are left to their handler: close() resolves once they too are
   * closed, so the gateway closes them as well.
   */
  close(): Promise<void>;
}

/** A request's headers must have arrived by then (slowloris), and the whole request a little later. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 20_000;

/**
 * One of the gateway's HTTPS servers (the set-facing one that carries WSS, the admin one): TLS
 * 1.2+ with ECDHE and AEAD suites only, a handshake cut after a few seconds, request headers
 * within 10 s, a cap on the connections one source may hold.
 */
export async function startHttpsServer(options: HttpsServerOptions): Promise<HttpsServer> {
  const { host, port, tls, logger, name } = options;
  // The timeouts are checked every connectionsCheckingInterval (default 30 s): every 2 s here.
  const server = createServer({ ...serverTlsOptions(tls, name), headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 2_000 });
  if (options.admitSource) {
    const admit = options.admitSource;
    server.prependListener('connection', (socket: Socket) => {
      if (!admit(normalizeAddress(socket.remoteAddress))) socket.destroy();
    });
  }
  capConnectionsPerSource(server, options.maxConnectionsPerSource, (address) => logger?.warn({ source: address, server: name }, 'connection refused: too many from this source'));
  const connections = new ConnectionTracker(server);
  server.on('request', (req, res) => connections.track(req, res, () => options.onRequest(req, res)));
  server.on('tlsClientError', (error, socket) => {
    // Scanners and old clients fail their handshakes all day: worth a debug line, no more.
    logger?.debug({ err: error, remote: `${socket.remoteAddress}:${socket.remotePort}`, server: name }, 'TLS handshake failed');
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`${name}: cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger?.error({ err: error, server: name }, 'server error'));
  const listening = (server.address() as AddressInfo).port;
  logger?.info({ host, port: listening, server: name }, 'HTTPS listening');

  let closed: Promise<void> | undefined;
  return {
    server,
    port: listening,
    setCertificate(next) {
      const context = serverSecureContext({ cert: next.cert, key: next.key }, name);
      try {
        // Tried alone first: setSecureContext would already have taken some fields when it throws.
        createSecureContext(context);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`${name}: the new certificate and key are not usable, keeping the current ones: ${reason}`, { cause: error });
      }
      server.setSecureContext(context);
      logger?.info({ server: name }, 'certificate reloaded');
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
