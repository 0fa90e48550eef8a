import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';

/** Two bound UDP sockets: RTP on an even port, RTCP on the odd port above it. */
export interface RtpSocketPair {
  address: string;
  rtpPort: number;
  rtcpPort: number;
  rtp: dgram.Socket;
  rtcp: dgram.Socket;
}

/** Every even port of the range is taken on that address (by us or by another process). */
export class RtpPortsExhaustedError extends Error {
  override readonly name = 'RtpPortsExhaustedError';
}

/**
 * Hands out RTP/RTCP port pairs (even RTP port, RTCP = RTP + 1) from `[min, max]`, bound on the
 * address asked for. Ports are handed out round-robin so a port just released (whose call's late
 * packets may still be in flight) is not the next one reused; ports another process holds are
 * skipped.
 */
export class RtpPortPool {
  private readonly firstPort: number;
  /** Pairs in the range: even ports p with p + 1 <= max. */
  readonly pairCount: number;
  /** RTP ports reserved or in use, per bind address. */
  private readonly taken = new Map<string, Set<number>>();
  private readonly cursors = new Map<string, number>();

  constructor(readonly min: number, readonly max: number, private readonly logger?: Logger) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535 || min > max) {
      throw new RangeError(`RTP port range ${min}–${max} is not a range within 1–65535`);
    }
    this.firstPort = min % 2 === 0 ? min : min + 1;
    this.pairCount = Math.max(0, Math.floor((max - 1 - this.firstPort) / 2) + 1);
    if (this.pairCount === 0) throw new RangeError(`RTP port range ${min}–${max} holds no even/odd port pair`);
  }

  /** Pairs handed out and not yet released on `address`. */
  inUse(address: string): number {
    return this.taken.get(address)?.size ?? 0;
  }

  /**
   * Binds a fresh pair on `address` (udp4 or udp6 by its family). Throws RtpPortsExhaustedError
   * when no pair of the range can be bound, or an Error naming address and port when binding
   * fails for another reason than the port being in use.
   */
  async allocate(address: string): Promise<RtpSocketPair> {
    const taken = this.taken.get(address) ?? new Set<number>();
    this.taken.set(address, taken);
    const start = this.cursors.get(address) ?? 0;
    for (let step = 0; step < this.pairCount; step++) {
      const slot = (start + step) % this.pairCount;
      const port = this.firstPort + 2 * slot;
      if (taken.has(port)) continue;
      // Reserved before the first await so a concurrent allocate() cannot pick the same port.
      taken.add(port);
      this.cursors.set(address, (slot + 1) % this.pairCount);
      try {
        return await this.bindPair(address, port);
      } catch (err) {
        taken.delete(port);
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw new Error(`cannot bind RTP/RTCP ports ${port}/${port + 1} on ${address}: ${(err as Error).message}`, { cause: err });
      }
    }
    throw new RtpPortsExhaustedError(
      `no free RTP port pair in ${this.min}–${this.max} on ${address} (${taken.size} of ${this.pairCount} pairs in use by this gateway, the rest by other processes)`,
    );
  }

  /** Closes both sockets and makes the ports available again once they are really closed. */
  async release(pair: RtpSocketPair): Promise<void> {
    await Promise.all([closeSocket(pair.rtp), closeSocket(pair.rtcp)]);
    this.taken.get(pair.address)?.delete(pair.rtpPort);
  }

  private async bindPair(address: string, rtpPort: number): Promise<RtpSocketPair> {
    const rtp = await this.bindSocket(address, rtpPort);
    try {
      const rtcp = await this.bindSocket(address, rtpPort + 1);
      return { address, rtpPort, rtcpPort: rtpPort + 1, rtp, rtcp };
    } catch (err) {
      await closeSocket(rtp);
      throw err;
    }
  }

  private bindSocket(address: string, port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        closeSocket(socket).finally(() => reject(err));
      };
      socket.once('error', onBindError);
      socket.bind({ address, port, exclusive: true }, () => {
        socket.off('error', onBindError);
        // A send error (e.g. ICMP unreachable) must not crash the process: log it and go on.
        socket.on('error', (err) => this.logger?.warn({ err, address, port }, 'RTP socket error'));
        resolve(socket);
      });
    });
  }
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // Already closed.
      resolve();
    }
  });
}
