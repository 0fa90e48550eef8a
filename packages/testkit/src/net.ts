import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';

/** Send a datagram from a chosen local address/port and collect the answers for `waitMs`. */
export async function udpExchange(data: Buffer, target: { address: string; port: number }, opts: { fromAddress?: string; fromPort?: number; waitMs?: number; expect?: number } = {}): Promise<Buffer[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(opts.fromPort ?? 0, opts.fromAddress ?? '127.0.0.1', () => resolve()));
  const got: Buffer[] = [];
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.waitMs ?? 1500);
    sock.on('message', (m) => {
      got.push(m);
      if (opts.expect !== undefined && got.length >= opts.expect) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  sock.send(data, target.port, target.address);
  await done;
  sock.close();
  return got;
}

/** Open a TCP connection, write `data`, and collect what comes back until `waitMs` or close. */
export async function tcpExchange(data: Buffer | string, port: number, opts: { waitMs?: number; until?: (received: string) => boolean } = {}): Promise<{ text: string; closed: boolean }> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  let text = '';
  let closed = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, opts.waitMs ?? 1500);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (opts.until?.(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    sock.on('error', () => undefined);
  });
  sock.write(data);
  await done;
  sock.destroy();
  return { text, closed };
}
