/**
 * A real headless Chromium (Debian's) for the interop suite, driven by playwright-core, loading
 * sip.js and JsSIP from a page served here, and trusting exactly the lab's WSS certificate.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { EVENT_LIMIT_MS, leaseLoopback, within, type LoopbackLease } from '@psi-lab/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const PAGES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'browser-pages');
/** Debian's package name and binary; `npm run setup` installs it. */
export const CHROMIUM = 'chromium';

/** Whether playwright-core (a devDependency of this package) resolves: `npm ci` brings it. */
export function hasPlaywright(): boolean {
  try {
    require.resolve('playwright-core');
    return true;
  } catch {
    return false;
  }
}

/** The Chromium binary on the PATH (what describeIfTool checked), e.g. /usr/bin/chromium. */
function chromiumPath(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    try {
      accessSync(join(dir, CHROMIUM), constants.X_OK);
      return join(dir, CHROMIUM);
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${CHROMIUM} is not on the PATH`);
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)): the form Chromium's --ignore-certificate-errors-spki-list takes. */
export function spkiHash(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * The certificate the lab's WSS port presents, taken from a handshake Node verified against the
 * lab's CA for that very address (chain and IP SAN): what Chromium is then told to accept is a
 * key this test has checked, not whatever answers on the port. It must also be the one in the
 * lab's data folder (DATA/certs/server.pem, the gateway's "Web Server" certificate).
 */
export async function verifiedWssCertificate(host: string, port: number, caPem: string, dataDir: string): Promise<X509Certificate> {
  const presented = await within(new Promise<X509Certificate>((resolvePeer, reject) => {
    const socket = connect({ host, port, ca: caPem }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.destroy();
      if (!peer) reject(new Error(`no certificate from ${host}:${port}`));
      else resolvePeer(peer);
    });
    socket.on('error', reject);
  }), EVENT_LIMIT_MS, `a TLS handshake with ${host}:${port}`);
  const onDisk = new X509Certificate(readFileSync(join(dataDir, 'certs', 'server.pem')));
  if (presented.fingerprint256 !== onDisk.fingerprint256) {
    throw new Error(`${host}:${port} presents ${presented.fingerprint256}, not the lab's certs/server.pem (${onDisk.fingerprint256})`);
  }
  return presented;
}

/**
 * JsSIP's browser build, made the way its own `npm run build` makes dist/jssip.js (esbuild, an
 * IIFE defining the global JsSIP, platform browser, es2015): the npm package ships lib/ only
 * (CommonJS requiring debug, events and sdp-transform), which a browser cannot load as is.
 * esbuild is here as tsx's own dependency (tsx is the root's devDependency that runs the lab).
 */
async function jssipBundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [require.resolve('jssip')], bundle: true, write: false, format: 'iife', globalName: 'JsSIP',
    platform: 'browser', target: ['es2015'], minify: false, logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };

export interface PageServer {
  /** http://ADDRESS:PORT, a loopback address of this file's own. */
  origin: string;
  close(): Promise<void>;
}

/**
 * The page and the libraries over plain HTTP on a leased loopback address: the page itself
 * (browser-pages/), sip.js's lib/ tree as the ES modules it ships (every import in it is
 * relative, with its .js extension, so the browser loads it with no import map), and JsSIP.
 */
export async function servePages(): Promise<PageServer> {
  const lease: LoopbackLease = await leaseLoopback();
  const sipJsLib = join(dirname(require.resolve('sip.js/package.json')), 'lib');
  const jssip = await jssipBundle();
  const server: Server = createServer((req, res) => {
    const send = (status: number, type: string, body: string | Buffer): void => {
      res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' });
      res.end(body);
    };
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    } catch {
      return send(400, 'text/plain', 'bad path');
    }
    if (path === '/jssip.js') return send(200, TYPES['.js'], jssip);
    if (path === '/favicon.ico') return send(204, 'image/x-icon', ''); // asked by every page: no 404 in its console
    const [root, rest] = path.startsWith('/sip.js/lib/') ? [sipJsLib, path.slice('/sip.js/lib/'.length)] : [PAGES_DIR, path === '/' ? 'index.html' : path.slice(1)];
    const file = resolve(root, rest);
    // Nothing outside the two folders: a request's path never reads the rest of the disk.
    if (!file.startsWith(root + sep)) return send(404, 'text/plain', 'not here');
    try {
      send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    } catch {
      send(404, 'text/plain', `no ${path}`);
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, lease.address, () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${lease.address}:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await lease.release();
    },
  };
}

/** One WebSocket frame as Chromium's network stack saw it (from DevTools, nothing hooked in the page). */
export interface SipFrame {
  dir: 'sent' | 'received';
  text: string;
}

export interface ClientPage {
  page: Page;
  /** Every SIP message the page's WebSockets carried so far, in order. */
  frames(): SipFrame[];
  /** Why the page's WebSockets failed, as Chromium says it (e.g. "... net::ERR_CERT_AUTHORITY_INVALID"). */
  socketErrors(): string[];
  /** What the page printed (console, uncaught errors) and the frames, for failure messages. */
  log(): string;
  close(): Promise<void>;
}

export interface LabBrowser {
  browser: Browser;
  /** Chromium's own version string, e.g. "156.0.8078.129". */
  version: string;
  /** A fresh browser context (no state shared with another client) on the clients' page. */
  openClients(): Promise<ClientPage>;
  close(): Promise<void>;
}

/**
 * Chromium trusting the key whose SPKI hash is `trustedSpki` and nothing more.
 *
 * Why --ignore-certificate-errors-spki-list: the lab's CA is made anew for each data folder, and
 * Chromium on Linux takes a private CA only from an NSS database (certutil, from libnss3-tools,
 * is not installed here) or a system-wide policy (which would outlive the test and reach every
 * other Chromium). The SPKI list lives for one launch and names one key, the lab's server key:
 * every other certificate is verified as usual (the last test proves a launch pinning another
 * key is refused with ERR_CERT_AUTHORITY_INVALID), and a blanket --ignore-certificate-errors
 * is never used. What the flag lets pass for that key (chain, names) was checked by
 * verifiedWssCertificate() instead. playwright adds --user-data-dir (a fresh temporary profile
 * a launch), --headless and --disable-dev-shm-usage itself.
 */
export async function launchChromium(trustedSpki: string, pages: PageServer): Promise<LabBrowser> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox', // Chromium refuses to start as root (CI runs as root) with its sandbox on
      `--ignore-certificate-errors-spki-list=${trustedSpki}`,
    ],
  });
  const contexts = new Set<BrowserContext>();
  return {
    browser,
    version: browser.version(),
    openClients: async () => {
      const context = await browser.newContext();
      contexts.add(context);
      const page = await context.newPage();
      let printed = '';
      const frames: SipFrame[] = [];
      const socketErrors: string[] = [];
      page.on('console', (m) => (printed += `[console.${m.type()}] ${m.text()}\n`));
      page.on('pageerror', (e) => (printed += `[pageerror] ${e.message}\n`));
      page.on('websocket', (ws) => {
        printed += `[websocket] ${ws.url()}\n`;
        ws.on('framesent', (f) => frames.push({ dir: 'sent', text: String(f.payload) }));
        ws.on('framereceived', (f) => frames.push({ dir: 'received', text: String(f.payload) }));
        ws.on('socketerror', (e) => {
          socketErrors.push(String(e));
          printed += `[websocket error] ${e}\n`;
        });
        ws.on('close', () => (printed += `[websocket closed] ${ws.url()}\n`));
      });
      await page.goto(`${pages.origin}/`, { waitUntil: 'load', timeout: 30_000 });
      // The module script defines psiClients before "load"; waited for by name all the same, bounded.
      await page.waitForFunction(() => 'psiClients' in globalThis, undefined, { timeout: EVENT_LIMIT_MS });
      return {
        page,
        frames: () => [...frames],
        socketErrors: () => [...socketErrors],
        log: () => `${printed}${frames.map((f) => `--- ${f.dir}\n${f.text}`).join('\n')}`,
        close: async () => {
          contexts.delete(context);
          await context.close();
        },
      };
    },
    close: async () => {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
    },
  };
}
