import type { Connection } from './connection.js';
import type { Destination, TransportProtocol } from './flow.js';

/**
 * The open connections of a transport layer: by flow id, by peer (so a later send to the same
 * address reuses the connection, whichever side opened it), and counted per source address to
 * bound what one address may hold.
 */
export class ConnectionPool {
  private readonly byFlow = new Map<string, Connection>();
  private readonly byPeer = new Map<string, string>();
  private readonly perSource = new Map<string, number>();
  private readonly connecting = new Map<string, Promise<Connection>>();

  constructor(private readonly maxPerSource: number) {}

  get size(): number {
    return this.byFlow.size;
  }

  get(flowId: string): Connection | undefined {
    return this.byFlow.get(flowId);
  }

  all(): Connection[] {
    return [...this.byFlow.values()];
  }

  /** The connection a send to `dest` should use, opening one with `open` when there is none. */
  async acquire(dest: Destination, open: () => Promise<Connection>): Promise<Connection> {
    const existing = (dest.flow && this.byFlow.get(dest.flow.id)) || this.byPeerKey(peerKey(dest.protocol, dest.address, dest.port));
    if (existing) return existing;
    // Two sends racing to a new peer share one connection attempt.
    const key = peerKey(dest.protocol, dest.address, dest.port);
    let pending = this.connecting.get(key);
    if (!pending) {
      pending = open().finally(() => this.connecting.delete(key));
      this.connecting.set(key, pending);
    }
    return pending;
  }

  /** Whether one more inbound connection from this address is allowed (and count it if so). */
  admit(address: string): boolean {
    const n = this.perSource.get(address) ?? 0;
    if (n >= this.maxPerSource) return false;
    this.perSource.set(address, n + 1);
    return true;
  }

  add(conn: Connection, inbound: boolean): void {
    const { flow } = conn;
    const key = peerKey(flow.protocol, flow.remote.address, flow.remote.port);
    this.byFlow.set(flow.id, conn);
    this.byPeer.set(key, flow.id);
    conn.on('close', () => {
      this.byFlow.delete(flow.id);
      if (this.byPeer.get(key) === flow.id) this.byPeer.delete(key);
      if (inbound) this.release(flow.remote.address);
    });
  }

  private byPeerKey(key: string): Connection | undefined {
    const id = this.byPeer.get(key);
    return id ? this.byFlow.get(id) : undefined;
  }

  private release(address: string): void {
    const n = (this.perSource.get(address) ?? 1) - 1;
    if (n <= 0) this.perSource.delete(address);
    else this.perSource.set(address, n);
  }
}

function peerKey(protocol: TransportProtocol, address: string, port: number): string {
  return `${protocol}:${address}:${port}`;
}
