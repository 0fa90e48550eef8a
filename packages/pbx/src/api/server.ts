import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PbxStore } from '../store/types.js';
import { createManagementApi, type ManagementApiOptions } from './management-api.js';

export interface StartManagementApiOptions extends ManagementApiOptions {
  store: PbxStore;
  /** Default 127.0.0.1: the API hands out credential hashes, so it is not public by default. */
  host?: string;
  /** Default 8070; 0 for any free port. */
  port?: number;
}

export interface RunningManagementApi {
  port: number;
  close(): Promise<void>;
}

export async function startManagementApi(options: StartManagementApiOptions): Promise<RunningManagementApi> {
  const { store, host = '127.0.0.1', port = 8070, ...apiOptions } = options;
  const server = createServer(createManagementApi(store, apiOptions));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Idle keep-alive connections would hold close() open until they time out.
      server.closeAllConnections();
    }),
  };
}
