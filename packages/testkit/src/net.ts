import dgram from 'node:dgram';
import net from 'node:net';
import { EVENT_LIMIT_MS } from './wait.js';

/**
 * Socket exchanges for tests. Each one ends on the event it waits for, within a generous bound
 * (default 10 s) that, when reached, rejects saying what never came; a negative check ("nothing
 * comes back") must ask for its silence window explicitly (`silenceMs`), never get one by default.
 */

export interface UdpExchangeOptions {
  /** Default 127.0.0.1 (use the test file's leased address). */
  fromAddress?: string;
  /** Default 0: any port. */
  fromPort?: number;
  /** Resolve once this many datagrams (that pass `match`) came back; fewer by `waitMs` rejects. */
  expect?: number;
  /** Only datagrams for which this holds are collected and counted (e.g. one Call-ID's answers). */
  match?: (datagram: Buffer) => boolean;
  /** The bound on `expect` (default 10 s). */
  waitMs?: number;
  /** A negative check: collect for exactly this long, then resolve with what came (possibly nothing). */
  silenceMs?: number;
}

/**
 * Send a datagram from a chosen local address/port and collect the answers: until `expect`
 * arrived (rejecting at `waitMs`), or for exactly `silenceMs`. One of the two must be given.
 */
export async function udpExchange(data: Buffer, target: { address: string; port: number }, opts: UdpExchangeOptions = {}): Promise<Buffer[]> {
  if (opts.expect === undefined && opts.silenceMs === undefined) {
    throw new TypeError('udpExchange: say what ends the wait: `expect` (answers, bounded by waitMs) or `silenceMs` (a window for a negative check)');
  }
  const sock = dgram.createSocket('udp4');
  const from = `${opts.fromAddress ?? '127.0.0.1'}:${opts.fromPort ?? 0}`;
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', (e) => reject(new Error(`udpExchange: cannot bind ${from}: ${e.message}`)));
      sock.bind(opts.fromPort ?? 0, opts.fromAddress ?? '127.0.0.1', () => resolve());
    });
    const got: Buffer[] = [];
    const bound = opts.expect !== undefined ? opts.waitMs ?? EVENT_LIMIT_MS : opts.silenceMs!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (opts.expect === undefined) resolve();
        else reject(new Error(`udpExchange: ${got.length} of ${opts.expect} expected answer(s) from ${target.address}:${target.port} to ${from} within ${bound} ms`));
      }, bound);
      sock.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`udpExchange: socket ${from} failed: ${e.message}`));
      });
      sock.on('message', (m) => {
        if (opts.match && !opts.match(m)) return;
        got.push(m);
        if (opts.expect !== undefined && got.length >= opts.expect) {
          clearTimeout(timer);
          resolve();
        }
      });
      sock.send(data, target.port, target.address);
    });
    return got;
  } finally {
    sock.close();
  }
}

export interface TcpExchangeOptions {
  /** Where the server listens. Default 127.0.0.1 (use the test file's leased address). */
  host?: string;
  /** Connect from this address. */
  localAddress?: string;
  /** Done when this holds on everything received so far (or when the peer closes). */
  until?: (received: string) => boolean;
  /** The bound on `until`, or on the close when there is no `until` (default 10 s): reaching it rejects. */
  waitMs?: number;
  /** A negative check: collect for exactly this long (or until close), then resolve with what came. */
  silenceMs?: number;
}

export interface TcpExchangeResult {
  text: string;
  /** The peer closed (or reset) the connection. */
  closed: boolean;
  /** From connect to the end of the wait. */
  elapsedMs: number;
}

/**
 * Open a TCP connection, write `data`, and collect what comes back: until `until` holds or the
 * peer closes; without `until`, until the peer closes; with `silenceMs`, for exactly that long.
 * When the awaited event does not come within `waitMs` (default 10 s), rejects saying so.
 */
export async function tcpExchange(data: Buffer | string, port: number, opts: TcpExchangeOptions = {}): Promise<TcpExchangeResult> {
  const host = opts.host ?? '127.0.0.1';
  const sock = net.connect({ port, host, localAddress: opts.localAddress });
  let text = '';
  let closed = false;
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', (e) => reject(new Error(`tcpExchange: cannot connect to ${host}:${port}: ${e.message}`)));
    });
    const t0 = performance.now();
    const bound = opts.silenceMs ?? opts.waitMs ?? EVENT_LIMIT_MS;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (opts.silenceMs !== undefined) return resolve();
        const awaited = opts.until ? 'the expected answer' : 'the server to close the connection';
        reject(new Error(`tcpExchange: no sign of ${awaited} on ${host}:${port} within ${bound} ms; received ${JSON.stringify(text.slice(0, 500))}`));
      }, bound);
      sock.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (opts.silenceMs === undefined && opts.until?.(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
      sock.on('close', () => {
        closed = true;
        clearTimeout(timer);
        resolve();
      });
      sock.on('error', () => undefined); // a reset ends in 'close' too
      sock.write(data);
    });
    return { text, closed, elapsedMs: performance.now() - t0 };
  } finally {
    sock.destroy();
  }
}
