import { EventEmitter } from 'node:events';
import pino, { type Logger } from 'pino';
import {
  Invitation, Inviter, Registerer, RegistererState, SIPExtension, UserAgent, type Referral, type Session, type SessionDescriptionHandler, type URI,
} from 'sip.js';
import type { CallMediaOptions } from '../media/call-media.js';
import { RtpSessionDescriptionHandler } from '../media/rtp-session-description-handler.js';
import { FailoverTransport } from '../transport/failover-transport.js';
import { parseServerAddress, type ServerAddress } from '../transport/server-address.js';
import { Call } from './call.js';
import { CallLog } from './call-log.js';
import { describeFailure, isFailure, PENDING_CREDENTIALS, IDLE, REGISTERED, type RegistrationStatus } from './registration-status.js';
import { followTransfer, sendTransfer, type TransferResult } from './transfer.js';

/** After our transfer succeeded, how long the transferor has to end the old call before we do (RFC 5589 §6 leaves it to the transferor). */
const TRANSFEROR_BYE_GRACE_MS = 5000;

/** Refusals retrying cannot mend: wrong credentials, unknown user. */
const FINAL_FAILURES = new Set([401, 403, 404, 407]);

export interface PhoneOptions {
  user: string;
  /** The SIP password, or… */
  password?: string;
  /** …the HA1 hash alone (MD5 of user:realm:password), as the Zoom client gets its credentials. */
  ha1?: string;
  /** Primary gateway first, then the backup: `tls://HOST:PORT`, `wss://HOST:PORT/PATH`. */
  servers: Array<string | ServerAddress>;
  /** PEM of the CA the gateways' certificate chains to (the lab's `ca.pem`). */
  ca?: string | Buffer;
  displayName?: string;
  /** Registration lifetime asked for, seconds (default 600). */
  expires?: number;
  /** Answer incoming calls at once with these media settings. */
  autoAnswer?: CallMediaOptions;
  /** Media of a call answered without any given. */
  defaultMedia?: CallMediaOptions;
  /** Make the SDP/RTP handler of a call; default: plain RTP audio (RtpSessionDescriptionHandler). */
  mediaFactory?: (session: Session, localAddress: string, media: CallMediaOptions) => SessionDescriptionHandler;
  /** While on the backup, how often the primary is tried (ms, default 30 000). */
  failbackIntervalMs?: number;
  /** Keepalive pings to the gateway (ms, default 25 000); a connection that stops answering them is dropped and made anew. */
  keepaliveMs?: number;
  /** First and longest pause between reconnection attempts (ms; 1 000 and 30 000). */
  reconnectDelayMs?: { min: number; max: number };
  logger?: Logger;
}

export interface PhoneEvents {
  status: [status: RegistrationStatus];
  /** A call is offered (ringing, unless auto-answer took it). */
  incoming: [call: Call];
  /** The transport moved to another gateway (failover, or back to the primary). */
  server: [server: ServerAddress];
  ended: [call: Call];
  /**
   * `from` goes on as `to`: we followed a transfer (REFER) and called its target, or an INVITE
   * with Replaces took the call over (the other end was transferred to us). `to` plays and
   * records as `from` did (its recording named `<name>-transferred.wav`).
   */
  transferred: [from: Call, to: Call];
}

/**
 * The Phone tab: registers through the gateway over TLS or WSS with digest (password or HA1),
 * keeps the registration up (refresh before expiry with jitter, reconnection, failover to the
 * backup gateway and back), places and takes calls, and keeps a call log.
 */
export class Phone extends EventEmitter<PhoneEvents> {
  status: RegistrationStatus;
  readonly callLog = new CallLog();
  readonly calls = new Set<Call>();
  private readonly ua: UserAgent | undefined;
  private readonly transport: FailoverTransport | undefined;
  private registerer: Registerer | undefined;
  private readonly media = new WeakMap<Session, CallMediaOptions>();
  private readonly logger: Logger;
  private closing = false;
  private wantRegistered = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectDelay: number;
  readonly servers: ServerAddress[];

  constructor(private readonly options: PhoneOptions) {
    super();
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.servers = options.servers.map((s) => (typeof s === 'string' ? parseServerAddress(s) : s));
    this.reconnectDelay = options.reconnectDelayMs?.min ?? 1000;
    const hasCredentials = Boolean(options.password || options.ha1);
    this.status = hasCredentials ? IDLE : PENDING_CREDENTIALS;
    if (!hasCredentials || this.servers.length === 0) return;
    const primary = this.servers[0];
    const domain = primary.host.includes(':') ? `[${primary.host}]` : primary.host;
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(`sip:${options.user}@${domain}`),
      displayName: options.displayName,
      authorizationUsername: options.user,
      authorizationPassword: options.password,
      authorizationHa1: options.password ? undefined : options.ha1,
      transportConstructor: FailoverTransport,
      transportOptions: {
        servers: this.servers, ca: options.ca, failbackIntervalMs: options.failbackIntervalMs, keepaliveMs: options.keepaliveMs,
        onServer: (server: ServerAddress) => this.emit('server', server),
        onPrimaryBack: () => void this.returnToPrimary(),
        log: (m: string) => this.logger.info(m),
      },
      contactParams: { transport: primary.protocol },
      userAgentString: 'psi-phone (psi-lab softphone)',
      // An INVITE with Replaces (RFC 3891) takes over one of our calls: attended transfer to us.
      sipExtensionReplaces: SIPExtension.Supported,
      sessionDescriptionHandlerFactory: (session) => {
        const media = this.media.get(session) ?? options.defaultMedia ?? {};
        const address = this.transport?.localAddress ?? '127.0.0.1';
        return options.mediaFactory ? options.mediaFactory(session, address, media) : new RtpSessionDescriptionHandler(address, media, this.logger);
      },
      logBuiltinEnabled: false,
      logConnector: (level, category, _label, content) => {
        if (level === 'error' || level === 'warn') this.logger.warn({ category }, content);
      },
      delegate: {
        onInvite: (invitation) => this.onInvite(invitation),
        onDisconnect: (error) => this.onDisconnect(error),
      },
    });
    this.transport = this.ua.transport as FailoverTransport;
  }

  /** The gateway the phone is connected to now. */
  get server(): ServerAddress | undefined {
    return this.transport?.isConnected() ? this.transport.server : undefined;
  }

  /** Connect (primary, else the backup) and register; resolves with the resulting status. */
  async register(): Promise<RegistrationStatus> {
    if (!this.ua || this.closing) return this.status;
    this.wantRegistered = true;
    try {
      if (this.ua.isConnected()) {
        // already connected
      } else if (this.ua.state === 'Started') await this.ua.reconnect();
      else await this.ua.start();
    } catch (e) {
      if (this.closing) return this.status;
      this.logger.warn({ err: (e as Error).message }, 'no gateway reachable');
      this.setStatus(describeFailure(503, 'Service Unavailable'));
      this.scheduleReconnect();
      return this.status;
    }
    if (this.closing) return this.status;
    const status = await this.sendRegister();
    // A refusal for the credentials is final; anything else (busy, timeout, server trouble) is tried again.
    if (isFailure(status) && !FINAL_FAILURES.has(Number(status.slice(0, 3)))) this.scheduleReconnect();
    return status;
  }

  async unregister(): Promise<void> {
    this.wantRegistered = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const registerer = this.registerer;
    if (registerer?.state === RegistererState.Registered && this.ua?.isConnected()) {
      await new Promise<void>((resolve) => {
        void registerer.unregister({ requestDelegate: { onAccept: () => resolve(), onReject: () => resolve() } }).catch(() => resolve());
        setTimeout(resolve, 5000).unref();
      });
    }
    if (this.status === REGISTERED) this.setStatus(IDLE);
  }

  /** Call an extension (or any user at the gateway's domain). */
  async call(extension: string, media: CallMediaOptions = {}): Promise<Call> {
    return this.placeCall(this.uriFor(extension), extension, media);
  }

  /**
   * Transfer a connected call (RFC 5589): to an extension (blind), or to another connected call
   * of ours (attended: its party takes over that call). Once the target answered, the call is
   * hung up; if the transfer failed, it stays as it was.
   */
  async transfer(call: Call, to: string | Call): Promise<TransferResult> {
    const result = await sendTransfer(call.session, typeof to === 'string' ? this.uriFor(to) : to.session);
    if (result.completed) await call.hangUp().catch(() => undefined);
    return result;
  }

  private uriFor(extension: string): URI {
    if (!this.ua) throw new Error(`cannot call: ${this.status}`);
    const target = UserAgent.makeURI(`sip:${extension}@${this.ua.configuration.uri.host}`);
    if (!target) throw new Error(`"${extension}" is not something one can call`);
    return target;
  }

  private async placeCall(target: URI, peer: string, media: CallMediaOptions, extra: { extraHeaders?: string[]; onResponse?: (status: number, reason: string) => void } = {}): Promise<Call> {
    if (!this.ua) throw new Error(`cannot call: ${this.status}`);
    const inviter = new Inviter(this.ua, target, { earlyMedia: true, extraHeaders: extra.extraHeaders });
    this.media.set(inviter, media);
    const call = this.track(new Call(inviter, 'outgoing', peer));
    const report = (response: { message: { statusCode?: number; reasonPhrase?: string } }): void => extra.onResponse?.(response.message.statusCode ?? 500, response.message.reasonPhrase ?? '');
    await inviter.invite({
      requestDelegate: {
        onProgress: report,
        onReject: (response) => {
          call.noteFailure(response.message.statusCode ?? 500, response.message.reasonPhrase ?? '');
          report(response);
        },
        // sip.js keeps a 183's SDP and ignores a different one in the 200: the 200 is what holds.
        onAccept: (response) => {
          const sdh = inviter.sessionDescriptionHandler;
          if (sdh instanceof RtpSessionDescriptionHandler && response.message.body) sdh.applyFinalAnswer(response.message.body);
          report(response);
        },
      },
    });
    return call;
  }

  /** Answer a ringing incoming call with these media settings. */
  async answer(call: Call, media: CallMediaOptions = {}): Promise<void> {
    this.media.set(call.session, media);
    await call.answer();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    for (const call of this.calls) await call.hangUp().catch(() => undefined);
    await this.unregister().catch(() => undefined);
    // The phone unregistered itself already: sip.js need not wait for anything still pending.
    await Promise.race([this.ua?.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.transport?.dispose().catch(() => undefined);
  }

  private sendRegister(): Promise<RegistrationStatus> {
    const ua = this.ua!;
    this.registerer ??= this.newRegisterer(ua);
    const registerer = this.registerer;
    return new Promise<RegistrationStatus>((resolve) => {
      const timer = setTimeout(() => resolve(this.setStatus(describeFailure(408, 'Request Timeout'))), 35_000);
      timer.unref();
      registerer.register({
        requestDelegate: {
          onAccept: () => {
            clearTimeout(timer);
            this.reconnectDelay = this.options.reconnectDelayMs?.min ?? 1000;
            resolve(this.setStatus(REGISTERED));
          },
          onReject: (response) => {
            clearTimeout(timer);
            resolve(this.setStatus(describeFailure(response.message.statusCode ?? 500, response.message.reasonPhrase ?? '')));
          },
        },
      }).catch((e: Error) => {
        clearTimeout(timer);
        this.logger.warn({ err: e.message }, 'REGISTER not sent');
        resolve(this.setStatus(describeFailure(503, 'Service Unavailable')));
      });
    });
  }

  private newRegisterer(ua: UserAgent): Registerer {
    // Refresh somewhere between 80 % and 95 % of the lifetime: phones that registered together do not all refresh together.
    const refreshFrequency = 80 + Math.floor(Math.random() * 16);
    const registerer = new Registerer(ua, { expires: this.options.expires ?? 600, refreshFrequency });
    registerer.stateChange.addListener((state) => {
      if (registerer !== this.registerer) return;
      if (state === RegistererState.Registered) this.setStatus(REGISTERED);
      else if (state === RegistererState.Unregistered && this.status === REGISTERED) {
        // A refresh that failed: not registered any more, so try again (unless we asked for it).
        // A first REGISTER's failure is register()'s to judge: final (403) or worth a retry.
        this.setStatus(IDLE);
        if (this.wantRegistered && !this.closing) this.scheduleReconnect();
      }
    });
    return registerer;
  }

  private onInvite(invitation: Invitation): void {
    const peer = invitation.remoteIdentity.uri.user ?? 'anonymous';
    const call = new Call(invitation, 'incoming', peer);
    invitation.delegate = {
      onCancel: (cancel) => {
        if (/cause=200/.test(cancel.request.getHeader('reason') ?? '')) call.noteCompletedElsewhere();
      },
    };
    this.track(call);
    const replaced = [...this.calls].find((c) => c.session === invitation.replacee);
    if (replaced) {
      // Attended transfer to us: the new party takes over a call we already answered, unasked
      // (RFC 3891 §3); sip.js hangs the replaced one up once this one is answered.
      this.emit('transferred', replaced, call);
      void this.answer(call, this.continuedMedia(replaced)).catch((e: Error) => this.logger.warn({ err: e.message }, 'replacing call not answered'));
      return;
    }
    this.emit('incoming', call);
    if (this.options.autoAnswer) void this.answer(call, this.options.autoAnswer).catch((e: Error) => this.logger.warn({ err: e.message }, 'auto-answer failed'));
  }

  /** We are the transferee: call the target, tell the transferor how it goes, end the old call if it does not. */
  private onRefer(call: Call, referral: Referral): void {
    const media = this.continuedMedia(call);
    void followTransfer(referral, call.session, async (target, extraHeaders, onResponse) => {
      const next = await this.placeCall(target, target.user ?? 'unknown', media, { extraHeaders, onResponse });
      this.emit('transferred', call, next);
      next.on('state', (state) => {
        if (state !== 'connected') return;
        setTimeout(() => void call.hangUp().catch(() => undefined), TRANSFEROR_BYE_GRACE_MS).unref();
      });
      return next;
    }, this.logger);
  }

  /** What a call that takes over from `call` plays and records. */
  private continuedMedia(call: Call): CallMediaOptions {
    const media = this.media.get(call.session) ?? this.options.defaultMedia ?? {};
    return { ...media, record: media.record?.replace(/(\.wav)?$/i, '-transferred$1') };
  }

  private onDisconnect(error?: Error): void {
    // The registration belonged to that connection; sip.js wants a fresh Registerer after a
    // disconnect (one with a REGISTER pending would refuse to send another).
    const old = this.registerer;
    this.registerer = undefined;
    void old?.dispose().catch(() => undefined);
    if (this.status === REGISTERED) this.setStatus(IDLE);
    if (this.closing || !error) return;
    this.logger.warn({ err: error.message }, 'connection to the gateway lost');
    if (this.wantRegistered) this.scheduleReconnect();
  }

  /** Try again after a pause that doubles up to the maximum. */
  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(delay * 2, this.options.reconnectDelayMs?.max ?? 30_000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closing && this.wantRegistered) this.register().catch((e: Error) => this.logger.warn({ err: e.message }, 'registration attempt failed'));
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Back to the primary, between calls: a call's dialog lives on the gateway it was set up through. */
  private async returnToPrimary(): Promise<void> {
    if (this.closing || !this.transport) return;
    if (this.calls.size > 0) {
      this.transport.probeAgainLater();
      return;
    }
    this.logger.info('the primary gateway is back: moving to it');
    // Leave the backup cleanly, so it does not keep a binding that rings nobody.
    await this.unregister();
    this.wantRegistered = true;
    await this.transport.disconnect();
    await this.register().catch((e: Error) => this.logger.warn({ err: e.message }, 'registration on the primary failed'));
  }

  private track(call: Call): Call {
    this.calls.add(call);
    call.session.delegate = { ...call.session.delegate, onRefer: (referral) => this.onRefer(call, referral) };
    call.on('ended', (entry) => {
      this.calls.delete(call);
      this.callLog.add(entry);
      this.emit('ended', call);
    });
    return call;
  }

  private setStatus(status: RegistrationStatus): RegistrationStatus {
    if (status !== this.status) {
      this.status = status;
      this.emit('status', status);
    }
    return status;
  }
}
