/** Where a softphone reaches its gateway: `tls://HOST:PORT` or `wss://HOST:PORT/PATH`. */
export interface ServerAddress {
  protocol: 'tls' | 'wss' | 'tcp' | 'ws';
  host: string;
  port: number;
  /** WebSocket path (default `/`). */
  path?: string;
}

export class ServerAddressError extends Error {
  override name = 'ServerAddressError';
}

const DEFAULT_PORTS = { tls: 5061, wss: 443, tcp: 5060, ws: 80 } as const;

/** Parse `tls://gw.example:5061` or `wss://gw.example:8443/sip`; the error says what form is wanted. */
export function parseServerAddress(text: string): ServerAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ServerAddressError(`"${text}" is not a server address: use tls://HOST:PORT or wss://HOST:PORT/PATH`);
  }
  const protocol = url.protocol.replace(/:$/, '');
  if (protocol !== 'tls' && protocol !== 'wss' && protocol !== 'tcp' && protocol !== 'ws') {
    throw new ServerAddressError(`"${text}": the scheme must be tls:// or wss:// (tcp:// and ws:// for tests), not ${protocol}://`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new ServerAddressError(`"${text}" names no host`);
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[protocol];
  const path = protocol === 'wss' || protocol === 'ws' ? (url.pathname || '/') : undefined;
  return { protocol, host, port, ...(path ? { path } : {}) };
}

export function formatServerAddress(s: ServerAddress): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${s.protocol}://${host}:${s.port}${s.path && s.path !== '/' ? s.path : ''}`;
}
