import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { capConnectionsPerSource, serverTlsOptions, type TlsOptions } from '@psi-lab/sip';
import type { PbxStore } from '../store/types.js';
import { createManagementApi, type ManagementApiOptions } from './management-api.js';

export interface StartManagementApiOptions extends ManagementApiOptions {
  store: PbxStore;
  /** Default 127.0.0.1: the API hands out credential hashes, so it is not public by default. */
  host?: string;
  /** Default 8070; 0 for any free port. */
  port?: number;
  /**
   * Serve HTTPS with this certificate and key (what a real deployment does: the gateway reads
   * set credentials here). Without it the API is plain HTTP, for tests and tools on loopback.
   */
  tls?: TlsOptions;
  /** Open connections one source may hold; default 64. */
  maxConnectionsPerSource?: number;
}

export interface RunningManagementApi {
  port: number;
  /** https when started with `tls`. */
  url: string;
  close(): Promise<void>;
}

export async function startManagementApi(options: StartManagementApiOptions): Promise<RunningManagementApi> {
  const { store, host = '127.0.0.1', port = 8070, tls, maxConnectionsPerSource = 64, ...apiOptions } = options;
  const handler = createManagementApi(store, apiOptions);
  // Slow clients (slowloris) get their headers in 10 s or lose the connection.
  const timeouts = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2_000 };
  const server: Server = tls ? createHttpsServer({ ...serverTlsOptions(tls, 'pbx management API'), ...timeouts }, handler) : createHttpServer(timeouts, handler);
  capConnectionsPerSource(server, maxConnectionsPerSource, (address) => apiOptions.logger?.warn({ source: address }, 'management API: connection refused, too many from this source'));
  if (tls) server.on('tlsClientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const listening = (server.address() as AddressInfo).port;
  return {
    port: listening,
    url: `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${listening}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Idle keep-alive connections would hold close() open until they time out.
      server.closeAllConnections();
    }),
  };
}
