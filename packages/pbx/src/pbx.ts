import { DigestServer, SipApp, cidrContains, type Listener } from '@psi-lab/sip';
import pino, { type Logger } from 'pino';
import { registrar } from './registrar/registrar.js';
import { callRouter } from './routing/call-router.js';
import { DialogRoutes } from './routing/dialog-routes.js';
import { forwardAck, inDialogRouting, type InDialogContext } from './routing/in-dialog.js';
import type { ExpiryPolicy } from './registrar/contact-expiry.js';
import { digestAuthentication } from './security/digest-authentication.js';
import { SipAccess } from './security/sip-access.js';
import { DEFAULT_BLOCK_POLICY, SourceBlocker, type BlockPolicy } from './security/source-blocker.js';
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
  /** Who may send SIP at all: the MBG, the site networks, the trunk. */
  access: SipAccess;
  /** The dialogs the pbx record-routed, by which in-dialog requests are routed. */
  dialogs: DialogRoutes;
  listeners: Listener[];
  /** The port SIP listens on (UDP and TCP). */
  port: number;
  close(): Promise<void>;
}

/**
 * The MiVoice 5000 role. Every request passes, top to bottom:
 *   1. SIP access: only the MBG, the site networks and the trunk are heard; a blocked source
 *      is dropped too. Both before parsing, unanswered.
 *   2. SIP security: every request counts toward the flood limit.
 *   3. Digest authentication of requests outside a dialog (401 for REGISTER, 407 otherwise),
 *      answered statelessly; wrong credentials count toward a block. A CANCEL matching no
 *      INVITE of its sender's gets 481, statelessly too.
 *   4. In-dialog requests (To tag) follow the dialog the pbx remembers to its other peer
 *      (481 for an unknown dialog, 403 from anyone but its peers).
 *   5. The method's handler: REGISTER → registrar, INVITE → call routing (fork, DND,
 *      forwarding, trunk), with the caller's identity asserted from its subscriber record.
 */
export async function startPbx(options: PbxOptions): Promise<RunningPbx> {
  const { store } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const now = options.now ?? Date.now;
  // A forking proxy: Require is for the far end of what it forwards; its registrar does Path and outbound.
  const app = new SipApp({ logger, sipTrace: options.sipTrace, userAgent: 'psi-lab pbx (MiVoice 5000 role)', proxy: true, supported: ['path', 'outbound'] });
  const allowListed = (address: string): boolean => store.listAllowList().some((e) => cidrContains(e.cidr, address));
  const blocker = new SourceBlocker({ ...DEFAULT_BLOCK_POLICY, ...options.blockPolicy }, allowListed, now,
    (block) => logger.warn({ source: block.address, reason: block.reason, until: new Date(block.until).toISOString() }, 'source blocked'));
  const trunk = options.trunk;
  const access = new SipAccess(store, trunk ? [trunk.address] : []);
  let unheard = 0;
  app.transport.sourceFilter = (address) => {
    if (!access.allows(address)) {
      // Logged now and then, not per packet: a stranger's flood must not flood the log too.
      if (unheard++ % 1000 === 0) logger.info({ source: address, dropped: unheard }, 'SIP from outside the MBG, the site networks and the trunk dropped');
      return false;
    }
    return blocker.allows(address);
  };

  // Every request counts toward the flood limit, ACK and CANCEL included.
  app.requestFilter = (_msg, flow) => {
    blocker.recordRequest(flow.remote.address);
    return true;
  };
  const host = options.host ?? '127.0.0.1';
  const listeners = await app.listenUdpAndTcp({ host, port: options.port ?? 5070 });
  const port = listeners[0].local.port;
  const dialogs = new DialogRoutes(now);
  const dialog: InDialogContext = {
    app, dialogs,
    isOwnUri: (uri) => uri.host === host && (uri.port ?? 5060) === port,
  };
  app.on('ack', (ack) => forwardAck(dialog, ack));
  // Realm = the pbx's own name; MD5 first: PSI sets and SIPp answer the first challenge only.
  const digest = new DigestServer({ realm: store.realm, algorithms: ['MD5', 'SHA-256'], now });
  app.useStateless(digestAuthentication({
    store, digest,
    isTrusted: (req) => trunk !== undefined && req.sourceAddress === trunk.address && req.sourcePort === trunk.port,
    onFailure: (req, reason) => {
      logger.info({ source: req.sourceAddress, method: req.method, reason }, 'authentication failed');
      blocker.recordFailure(req.sourceAddress);
    },
  }));
  app.use(inDialogRouting(dialog));
  app.register(registrar({ store, now, ...options.expiry }));
  app.invite(callRouter({ app, store, now, trunk, logger, dialogs, recordRoute: `<sip:${host}:${port};lr>` }));
  // In-dialog requests are routed before these; outside a dialog there is nothing to do.
  for (const method of ['BYE', 'UPDATE', 'INFO', 'REFER', 'NOTIFY', 'PRACK', 'MESSAGE']) {
    app.method(method, (_req, res) => void res.send(481));
  }
  const reaper = setInterval(() => {
    const removed = store.reapBindings(now());
    const forgotten = dialogs.sweep();
    if (removed > 0 || forgotten > 0) logger.debug({ removed, forgotten }, 'expired bindings and dialogs removed');
  }, options.reapIntervalMs ?? 30_000);
  reaper.unref();
  return {
    app, blocker, access, dialogs, listeners, port,
    close: async () => {
      clearInterval(reaper);
      await app.close();
    },
  };
}
