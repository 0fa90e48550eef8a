import dgram from 'node:dgram';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';

/* Ports for peers the tests start (SIPp, stunnel): one free now, and proof a child listens on it. */

/** A port on `address` (default 127.0.0.1) free for both UDP and TCP right now (SIPp may bind either). */
export async function freePort(address = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((res, rej) => {
      udp.once('error', rej);
      udp.bind(0, address, () => res(udp.address().port));
    });
    const tcpOk = await new Promise<boolean>((res) => {
      const srv = net.createServer();
      srv.once('error', () => res(false));
      srv.listen(port, address, () => srv.close(() => res(true)));
    });
    await new Promise<void>((res) => udp.close(() => res()));
    if (tcpOk) return port;
  }
  throw new Error(`no port free for both UDP and TCP on ${address}`);
}

/** How long a child (SIPp) may take to bind its port on a loaded machine before the test says so. */
const LISTEN_LIMIT_MS = 20_000;

/**
 * Resolves once SIPp itself listens on address:port (Linux's /proc/net, polled; the socket must be
 * one of SIPp's own file descriptors, not another program's that took the port); rejects, saying
 * why, when SIPp exits first or does not listen within LISTEN_LIMIT_MS.
 */
export async function waitListening(pid: number | undefined, address: string, port: number, tcp: boolean, exited: Promise<number>, stderr: () => string): Promise<void> {
  let exitCode: number | undefined;
  void exited.then((code) => (exitCode = code));
  const procFile = tcp ? '/proc/net/tcp' : '/proc/net/udp';
  // /proc/net shows an IPv4 address as its four bytes in reverse, in hex: 127.0.0.1 is 0100007F.
  const hexAddress = address.split('.').reverse().map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0')).join('');
  const needle = `${hexAddress}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const deadline = Date.now() + LISTEN_LIMIT_MS;
  if (!existsSync(procFile)) throw new Error(`cannot tell whether SIPp listens: ${procFile} is missing (Linux only)`);
  for (;;) {
    // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode...;
    // a listening TCP socket is st 0A, a bound UDP one 07.
    const rows = readFileSync(procFile, 'utf8').split('\n').map((l) => l.trim().split(/\s+/));
    const inodes = rows.filter((c) => c[1] === needle && (c[3] === '0A' || c[3] === '07')).map((c) => `socket:[${c[9]}]`);
    if (exitCode === undefined && inodes.length > 0 && pid !== undefined && ownsOneOf(pid, inodes)) return;
    if (exitCode !== undefined) throw new Error(`SIPp exited (${exitCode}) before listening on ${address}:${port}: ${stderr().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`SIPp did not listen on ${address}:${port} within ${LISTEN_LIMIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Whether process `pid` holds one of these sockets ("socket:[inode]") among its file descriptors. */
function ownsOneOf(pid: number, sockets: string[]): boolean {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false; // gone
  }
  return fds.some((fd) => {
    try {
      return sockets.includes(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      return false; // closed meanwhile
    }
  });
}
