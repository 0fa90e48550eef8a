import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DialogTable, SipApp, cidrContains, type Flow, type Listener, type SipRequest } from '@psi-lab/sip';
import pino, { type Logger } from 'pino';
import { WebCertificate } from './certificates/web-certificate.js';
import type { GatewayConfig } from './config/index.js';
import type { GatewayContext } from './context.js';
import { CredentialCache } from './credentials/credential-cache.js';
import { createSetFacingRequestHandler, createStatusRequestHandler, ensureAdminToken, startHttpsServer, type HttpsServer } from './http/index.js';
import { MediaRelay } from './media/index.js';
import { installPbxSidePolicy } from './policy/pbx-side.js';
import { installSetSidePolicy } from './policy/set-side.js';
import { Keepalive } from './registrations/keepalive.js';
import { RegistrationTable } from './registrations/registration-table.js';
import { MAX_MEDIA_STREAMS, type B2bCall } from './relay/b2b-call.js';
import { DialogReaper } from './relay/dialog-reaper.js';
import { fromDialogSet } from './relay/in-dialog-relay.js';
import { RELAYED_OPTION_TAGS } from './relay/headers.js';
import { PbxLink } from './relay/pbx-link.js';
import { AbuseBlocker, AccessList } from './security/index.js';
import type { GatewayCounters, GatewayStatus } from './status/types.js';

export interface GatewayOptions {
  logger?: Logger;
  now?: () => number;
  /** Reload the certificate on SIGHUP (default true; tests running several gateways turn it off). */
  handleSighup?: boolean;
}

export interface RunningGateway {
  /** Where each set-side listener ended up (ports 0 in the config become real ports). */
  listeners: { udp?: Listener; tcp?: Listener; tls?: Listener; wss?: Listener; https?: HttpsServer; admin?: HttpsServer; pbxSide: Listener[] };
  /** The admin credential in use (from admin.token or admin.tokenFile). */
  adminToken: string;
  status(): GatewayStatus;
  /** Re-read the certificate files now (what SIGHUP does). */
  reloadCertificate(): boolean;
  /** The certificate in use; its 'reload' event fires once the listeners serve a new pair. */
  certificate: WebCertificate;
  blocker: AbuseBlocker;
  credentials: CredentialCache;
  context: GatewayContext;
  close(): Promise<void>;
}

/**
 * The MiVoice Border Gateway role: set-side SIP (UDP, TCP, TLS, WSS) in front, one pbx behind,
 * and between them the policy of policy/set-side.ts and policy/pbx-side.ts, a back-to-back relay
 * of registrations and dialogs, and media anchoring.
 */
export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? pino({ level: config.log.level });
  const now = options.now ?? Date.now;
  const startedAt = now();
  const certificate = WebCertificate.open(config.certificate, logger);
  const transportOptions = {
    logger, sipTrace: config.log.sipTrace,
    idleTimeoutMs: config.keepalive.idleTimeoutSeconds * 1000,
    maxConnectionsPerSource: config.security.maxConnectionsPerSource,
  };
  const supported = [...RELAYED_OPTION_TAGS];
  const setApp = new SipApp({ ...transportOptions, advertisedAddress: config.sip.publicAddress, userAgent: 'psi-lab gateway (MBG role)', supported });
  const pbxApp = new SipApp({ logger, sipTrace: config.log.sipTrace, advertisedAddress: config.media.pbxSideAddress, userAgent: 'psi-lab gateway (MBG role)', supported });
  const credentials = new CredentialCache({
    api: config.pbx.api, caFile: config.pbx.apiCaFile, account: config.pbx.account, secret: config.pbx.secret,
    localAddress: isWildcard(config.pbx.localHost) ? undefined : config.pbx.localHost,
    refreshMs: config.pbx.credentialsRefreshSeconds * 1000, devices: config.devices, logger, now,
  });
  const pbx = new PbxLink(pbxApp, { address: config.pbx.address, port: config.pbx.port, transport: config.pbx.transport }, credentials, { host: config.pbx.localHost, port: config.pbx.localPort });
  // Bound where SIP listens, announced as configured: behind NAT or in a container they differ.
  const media = new MediaRelay({
    setSideAddress: config.media.setSideAddress, pbxSideAddress: config.media.pbxSideAddress,
    setSideBind: config.sip.host, pbxSideBind: config.pbx.localHost,
    portMin: config.media.portMin, portMax: config.media.portMax, maxStreams: MAX_MEDIA_STREAMS, logger,
    isTrustedNetwork: (address) => config.media.trustedNetworks.some((network) => cidrContains(network, address)),
  });
  const counters = zeroCounters();
  const ctx: GatewayContext = {
    setApp, pbx, registrations: new RegistrationTable(), credentials, media,
    dialogs: { set: new DialogTable(), pbx: new DialogTable() }, calls: new Set(),
    counters, logger, now, publicAddress: config.sip.publicAddress,
    keepaliveMs: config.keepalive.optionsIntervalSeconds * 1000,
  };

  const admin = adminCredential(config);
  if (admin.created) logger.warn({ file: config.admin.tokenFile }, 'admin token made: the admin pages want it ("Authorization: Bearer <token>")');
  const access = new AccessList(config.security.accessList);
  const blocker = new AbuseBlocker({
    policy: config.security, now,
    isExempt: (address) => access.isWhite(address),
    onBlock: (block) => {
      // A blocked source loses its open connections too, not only its future ones.
      const closed = block.kind === 'source' ? setApp.transport.closeFlowsFrom(block.value) : 0;
      logger.warn({ kind: block.kind, value: block.value, reason: block.reason, count: block.count, until: block.until, connectionsClosed: closed }, 'blocked');
    },
  });
  installSetSidePolicy(ctx, { access, blocker, config: config.security, auth: config.auth });
  installPbxSidePolicy(ctx, new Set([await resolveAddress(config.pbx.address)]));
  // A set whose connection dies leaves its calls: hang them up toward the pbx.
  setApp.transport.on('flow-closed', (flow) => {
    for (const dialog of [...ctx.dialogs.set.values()]) (dialog.owner as B2bCall).onSetFlowClosed(flow);
  });
  setApp.on('ack', (ack) => markAcked(ctx, 'set', ack.msg, ack.flow));
  pbxApp.on('ack', (ack) => markAcked(ctx, 'pbx', ack.msg, ack.flow));

  await credentials.start();
  const listeners: RunningGateway['listeners'] = { pbxSide: await pbxApp.listenUdpAndTcp({ host: config.pbx.localHost, port: config.pbx.localPort }) };
  const tls = { cert: certificate.cert, key: certificate.key };
  if (config.sip.port !== 0) {
    [listeners.udp, listeners.tcp] = await setApp.listenUdpAndTcp({ host: config.sip.host, port: config.sip.port });
  }
  if (config.sip.tlsPort !== 0) listeners.tls = await setApp.listen({ protocol: 'tls', host: config.sip.host, port: config.sip.tlsPort, tls });
  if (config.https.port !== 0) {
    listeners.https = await startHttpsServer({
      name: 'WSS server', host: config.https.host, port: config.https.port, tls, logger,
      maxConnectionsPerSource: config.security.maxConnectionsPerSource, onRequest: createSetFacingRequestHandler(),
      // The sets' side: a black-listed or blocked source gets no handshake either.
      admitSource: (address) => access.allows(address) && blocker.recordRequest(address),
    });
    listeners.wss = await setApp.listen({ protocol: 'wss', host: config.https.host, port: listeners.https.port, server: listeners.https.server, path: config.https.wsPath });
  }
  if (config.admin.port !== 0) {
    listeners.admin = await startHttpsServer({
      name: 'admin server', host: config.admin.host, port: config.admin.port, tls, logger,
      maxConnectionsPerSource: config.security.maxConnectionsPerSource,
      onRequest: createStatusRequestHandler({ status: () => status(), adminToken: admin.token, now, logger, unblock: (kind, value) => blocker.unblock(kind, value) }),
    });
  }
  // Checked by WebCertificate before this runs (a pair TLS refuses never gets here).
  certificate.on('reload', (pem) => {
    listeners.tls?.setTls?.(pem);
    listeners.https?.setCertificate(pem);
    listeners.admin?.setCertificate(pem);
  });
  if (config.certificate.watch) certificate.watch(config.certificate.watchIntervalMs);
  const onSighup = (): void => void certificate.reload();
  if (options.handleSighup !== false) process.on('SIGHUP', onSighup);

  const keepalive = new Keepalive(ctx);
  keepalive.start();
  const reaper = new DialogReaper(ctx);
  reaper.start();

  const status = (): GatewayStatus => {
    counters.connections = setApp.transport.stats.connections;
    counters.blocksActive = blocker.blocksActive;
    counters.blocksTotal = blocker.blocksTotal;
    counters.registrations = ctx.registrations.size;
    counters.rtpPackets = media.stats.packets;
    counters.rtpBytes = media.stats.bytes;
    counters.callsMediaRefused = media.stats.sessionsMediaRefused;
    counters.serverTransactions = setApp.transactions.size.server;
    const cert = certificate.info;
    return {
      startedAt: new Date(startedAt).toISOString(),
      listeners: [
        ...setApp.transport.openListeners.map((l) => ({ protocol: l.protocol, address: l.local.address, port: l.local.port, ...(l.protocol === 'wss' ? { path: config.https.wsPath } : {}) })),
        ...(listeners.admin ? [{ protocol: 'https (admin)', address: config.admin.host, port: listeners.admin.port }] : []),
      ],
      pbx: {
        target: pbx.label, credentials: credentials.size,
        credentialsRefreshedAt: credentials.refreshedAt === undefined ? undefined : new Date(credentials.refreshedAt).toISOString(),
        credentialsError: credentials.lastError,
      },
      certificate: cert,
      registrations: ctx.registrations.views(),
      calls: [...ctx.calls].map((call) => call.view()),
      blocks: blocker.list(),
      counters: { ...counters },
    };
  };

  logger.info({ pbx: pbx.label, udp: listeners.udp?.local.port, tcp: listeners.tcp?.local.port, tls: listeners.tls?.local.port, wss: listeners.https?.port, admin: listeners.admin?.port }, 'gateway started');
  return {
    listeners, status, blocker, credentials, context: ctx, certificate, adminToken: admin.token,
    reloadCertificate: () => certificate.reload(),
    close: async () => {
      process.off('SIGHUP', onSighup);
      keepalive.stop();
      reaper.stop();
      credentials.stop();
      certificate.close();
      await setApp.close();
      await pbxApp.close();
      await listeners.https?.close();
      await listeners.admin?.close();
      await media.close();
    },
  };
}

/** admin.token when set, else the token kept in admin.tokenFile (made at first start). */
function adminCredential(config: GatewayConfig): { token: string; created: boolean } {
  if (config.admin.token !== undefined) return { token: config.admin.token, created: false };
  return ensureAdminToken(config.admin.tokenFile);
}

function markAcked(ctx: GatewayContext, side: 'set' | 'pbx', ack: SipRequest, flow: Flow): void {
  const dialog = ctx.dialogs[side].match(ack);
  // Only the set's own ACK stops the 2xx retransmissions: a forged one would end them early.
  if (dialog && (side === 'pbx' || fromDialogSet(ctx, dialog, flow))) {
    const call = dialog.owner as B2bCall;
    call.ackedSeq[side] = Math.max(call.ackedSeq[side], ack.cseq.seq);
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

async function resolveAddress(address: string): Promise<string> {
  if (isIP(address)) return address;
  return (await lookup(address)).address;
}

function zeroCounters(): GatewayCounters {
  return {
    requests: 0, challenges: 0, authFailures: 0, dropped: 0, scannersDropped: 0, blocksActive: 0, blocksTotal: 0,
    registrations: 0, connections: 0, callsActive: 0, callsTotal: 0, keepaliveFailures: 0, rtpPackets: 0, rtpBytes: 0, callsMediaRefused: 0, malformed: 0, serverTransactions: 0,
  };
}
