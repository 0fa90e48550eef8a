import { DigestServer, SipApp, type Listener } from '@psi-lab/sip';
import pino, { type Logger } from 'pino';
import { registrar } from './registrar/registrar.js';
import { callRouter } from './routing/call-router.js';
import { forwardAck, inDialogRouting, type InDialogContext } from './routing/in-dialog.js';
import type { ExpiryPolicy } from './registrar/contact-expiry.js';
import { AuthenticatedSources } from './security/authenticated-sources.js';
import { digestAuthentication } from './security/digest-authentication.js';
import { DEFAULT_BLOCK_POLICY, SourceBlocker, type BlockPolicy } from './security/source-blocker.js';
import { cidrContains } from '@psi-lab/sip';
import type { PbxStore } from './store/types.js';

export interface PbxOptions {
  store: PbxStore;
  /** Default 127.0.0.1. */
  host?: string;
  /** SIP over UDP and TCP; default 5070 (0: any free port, the same for both). */
  port?: number;
  logger?: Logger;
  sipTrace?: boolean;
  blockPolicy?: Partial<BlockPolicy>;
  expiry?: Partial<ExpiryPolicy>;
  /** Numbers starting with 0 go to this SIP trunk (SIPp standing in for the PSTN); its calls in are trusted. */
  trunk?: { address: string; port: number };
  /** How often expired bindings are removed (ms, default 30 000). */
  reapIntervalMs?: number;
  now?: () => number;
}

export interface RunningPbx {
  app: SipApp;
  blocker: SourceBlocker;
  listeners: Listener[];
  /** The port SIP listens on (UDP and TCP). */
  port: number;
  close(): Promise<void>;
}

/**
 * The MiVoice 5000 role. Every request passes, top to bottom:
 *   1. SIP security: a blocked source is dropped by the transport before parsing;
 *      every request counts toward the flood limit.
 *   2. Digest authentication (401 for REGISTER, 407 otherwise); wrong credentials count. A
 *      source that authenticated is remembered: its in-dialog requests are not challenged again.
 *   3. In-dialog requests (To tag) follow our Record-Route to the dialog peer.
 *   4. The method's handler: REGISTER → registrar, INVITE → call routing (fork, DND,
 *      forwarding, trunk).
 */
export async function startPbx(options: PbxOptions): Promise<RunningPbx> {
  const { store } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const now = options.now ?? Date.now;
  const app = new SipApp({ logger, sipTrace: options.sipTrace, userAgent: 'psi-lab pbx (MiVoice 5000 role)' });
  const allowListed = (address: string): boolean => store.listAllowList().some((e) => cidrContains(e.cidr, address));
  const blocker = new SourceBlocker({ ...DEFAULT_BLOCK_POLICY, ...options.blockPolicy }, allowListed, now,
    (block) => logger.warn({ source: block.address, reason: block.reason, until: new Date(block.until).toISOString() }, 'source blocked'));
  app.transport.sourceFilter = (address) => blocker.allows(address);

  app.use((req, _res, next) => {
    blocker.recordRequest(req.sourceAddress);
    next();
  });
  const host = options.host ?? '127.0.0.1';
  const listeners = await app.listenUdpAndTcp({ host, port: options.port ?? 5070 });
  const port = listeners[0].local.port;
  const dialog: InDialogContext = {
    app, store, now,
    isOwnUri: (uri) => uri.host === host && (uri.port ?? 5060) === port,
  };
  app.on('ack', (ack) => forwardAck(dialog, ack));
  // Realm = the pbx's own name; MD5 first: PSI sets and SIPp answer the first challenge only.
  const digest = new DigestServer({ realm: store.realm, algorithms: ['MD5', 'SHA-256'], now });
  const trunk = options.trunk;
  app.use(digestAuthentication({
    store, digest,
    isTrusted: (req) => trunk !== undefined && req.sourceAddress === trunk.address && req.sourcePort === trunk.port,
    sources: new AuthenticatedSources(3600_000, now),
    onFailure: (req, reason) => {
      logger.info({ source: req.sourceAddress, method: req.method, reason }, 'authentication failed');
      blocker.recordFailure(req.sourceAddress);
    },
  }));
  app.use(inDialogRouting(dialog));
  app.register(registrar({ store, now, ...options.expiry }));
  app.invite(callRouter({ app, store, now, trunk, logger, recordRoute: `<sip:${host}:${port};lr>` }));
  // In-dialog requests are routed before authentication; outside a dialog there is nothing to do.
  for (const method of ['BYE', 'UPDATE', 'INFO', 'REFER', 'NOTIFY', 'PRACK', 'MESSAGE']) {
    app.method(method, (_req, res) => void res.send(481));
  }
  const reaper = setInterval(() => {
    const removed = store.reapBindings(now());
    if (removed > 0) logger.debug({ removed }, 'expired bindings removed');
  }, options.reapIntervalMs ?? 30_000);
  reaper.unref();
  return {
    app, blocker, listeners, port,
    close: async () => {
      clearInterval(reaper);
      await app.close();
    },
  };
}
