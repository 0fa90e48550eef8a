import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Endpoint, Flow } from './flow.js';

interface BoundSocket {
  socket: dgram.Socket;
  local: Endpoint;
}

/** The flow of a datagram: UDP has no connection, so the (local, remote) pair is the flow. */
export function udpFlow(local: Endpoint, remote: Endpoint): Flow {
  return { id: `udp:${local.address}:${local.port}<-${remote.address}:${remote.port}`, protocol: 'udp', local, remote };
}

/**
 * The UDP sockets of a transport layer: the listeners, and for a pure client an ephemeral
 * socket that also receives the answers. Each datagram is handed on with its flow.
 */
export class UdpSockets {
  private readonly sockets: BoundSocket[] = [];
  private ephemeral: BoundSocket | undefined;

  constructor(
    private readonly onDatagram: (data: Buffer, flow: Flow) => void,
    private readonly onOversize: () => void,
    private readonly maxMessageSize: number,
    private readonly logger?: Logger,
    /** Screens a datagram's source before anything is built for it: a flood of dropped ones costs the least. */
    private readonly admit: (address: string) => boolean = () => true,
  ) {}

  async bind(host: string, port: number): Promise<{ local: Endpoint; close(): Promise<void> }> {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      // Bursts (registration storms, load tests) must not be lost in a small kernel buffer.
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // the kernel's limit stands
    }
    const bound = this.attach(socket, { address: host, port: socket.address().port });
    return { local: bound.local, close: () => this.close(bound) };
  }

  /** Send from the socket bound at `local` (the flow's), else from the first one there is. */
  async send(data: Buffer, address: string, port: number, local?: Endpoint): Promise<Endpoint> {
    const bound = (local && this.sockets.find((s) => s.local.port === local.port && s.local.address === local.address))
      ?? this.sockets[0] ?? this.ephemeralSocket();
    await new Promise<void>((resolve, reject) => bound.socket.send(data, port, address, (e) => (e ? reject(e) : resolve())));
    return bound.local;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sockets, ...(this.ephemeral ? [this.ephemeral] : [])].map((s) => this.close(s)));
  }

  private attach(socket: dgram.Socket, local: Endpoint): BoundSocket {
    const bound = { socket, local };
    socket.on('error', (e) => this.logger?.warn({ err: e.message, ...local }, 'UDP socket error'));
    socket.on('message', (data, rinfo) => {
      // A lone CRLF keepalive on UDP carries no message, and counts toward nothing.
      if (data.length <= 4 && data.toString().trim() === '') return;
      if (!this.admit(rinfo.address)) return;
      if (data.length > this.maxMessageSize) return this.onOversize();
      this.onDatagram(data, udpFlow(bound.local, { address: rinfo.address, port: rinfo.port }));
    });
    if (local.port !== 0) this.sockets.push(bound);
    return bound;
  }

  private ephemeralSocket(): BoundSocket {
    if (this.ephemeral) return this.ephemeral;
    const socket = dgram.createSocket('udp4');
    const bound = this.attach(socket, { address: '127.0.0.1', port: 0 });
    socket.bind(0, '127.0.0.1', () => {
      bound.local.port = socket.address().port;
    });
    this.ephemeral = bound;
    return bound;
  }

  private close(bound: BoundSocket): Promise<void> {
    const i = this.sockets.indexOf(bound);
    if (i >= 0) this.sockets.splice(i, 1);
    if (this.ephemeral === bound) this.ephemeral = undefined;
    return new Promise<void>((resolve) => {
      try {
        bound.socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}
