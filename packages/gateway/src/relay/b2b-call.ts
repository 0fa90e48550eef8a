import { SdpError } from '@psi-lab/media';
import { newCallId, type ClientInviteTransaction, type Dialog, type Flow, type SipMessage } from '@psi-lab/sip';
import type { GatewayContext } from '../context.js';
import type { CallView } from '../status/types.js';
import { MediaStreamLimitError, type MediaSession } from '../media/index.js';
import { GATEWAY_CONTACT_USER } from './headers.js';

export type Side = 'set' | 'pbx';

export function otherSide(side: Side): Side {
  return side === 'set' ? 'pbx' : 'set';
}

/**
 * One relayed dialog: its leg toward a set and its leg toward the pbx, each a dialog of its own
 * (own Call-ID, tags and CSeq), and the media session anchoring its RTP. INVITE dialogs are calls;
 * SUBSCRIBE and REFER make the same pairing for their notifications.
 */
export class B2bCall {
  readonly legs: { set?: Dialog; pbx?: Dialog } = {};
  media: MediaSession | undefined;
  established = false;
  /** The highest CSeq an ACK came with, per side: over UDP a 2xx is repeated until its ACK. */
  readonly ackedSeq: { set: number; pbx: number } = { set: 0, pbx: 0 };
  ended = false;
  /** The dialog-creating request's client transaction while it is unanswered (to CANCEL it). */
  pending: ClientInviteTransaction | undefined;
  /** The set-side user, whose ICP-side credentials answer the pbx's challenges. */
  setUser: string | undefined;
  /** CSeq numbers of the dialog-creating request on each leg: RAck is translated with them. */
  readonly inviteSeq: { set?: number; pbx?: number } = {};
  readonly startedAt: number;
  /** The other party's number, as the set sees it. */
  peer = '';
  /** The last time a request crossed this dialog (ms). */
  lastActivity: number;
  /** Subscriptions (SUBSCRIBE, REFER): when they run out unless refreshed. */
  expiresAt: number | undefined;
  /**
   * Each REFER's CSeq on both legs: a REFER's subscription is named by its CSeq (`Event:
   * refer;id=N`, RFC 3515 §2.4.6, RFC 6665 §8.2.1), and each leg numbers its requests its own way.
   */
  private readonly referSeqs: Array<Record<Side, number>> = [];
  /** Runs out at the Session-Expires the last INVITE or UPDATE 2xx gave (RFC 4028), unless a refresh comes. */
  private sessionTimer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: GatewayContext, readonly method: string, readonly callerSide: Side) {
    this.startedAt = ctx.now();
    this.lastActivity = this.startedAt;
    if (this.isCall) ctx.calls.add(this);
  }

  /** A request crossed: the dialog is alive; a refreshed subscription runs for its new Expires. */
  touch(expiresSeconds?: number): void {
    this.lastActivity = this.ctx.now();
    if (!this.isCall && expiresSeconds !== undefined) this.expiresAt = this.lastActivity + expiresSeconds * 1000;
  }

  get isCall(): boolean {
    return this.method === 'INVITE';
  }

  setLeg(side: Side, dialog: Dialog): void {
    // An ended call takes no new leg: it would stay in the tables for good.
    if (this.ended) return;
    const previous = this.legs[side];
    if (previous) this.ctx.dialogs[side].remove(previous);
    dialog.owner = this;
    this.legs[side] = dialog;
    this.ctx.dialogs[side].add(dialog);
  }

  /** A REFER crossed: CSeq `fromSeq` on side `from`, `toSeq` on the other leg. */
  noteRefer(from: Side, fromSeq: number, toSeq: number): void {
    this.referSeqs.push({ [from]: fromSeq, [otherSide(from)]: toSeq } as Record<Side, number>);
    // A dialog sees a handful of transfers at most; keep the table from growing with a misbehaving peer.
    if (this.referSeqs.length > 16) this.referSeqs.shift();
  }

  /** The id a REFER subscription known as `id` on side `from` has on the other leg. */
  referIdOnOtherLeg(from: Side, id: number): number | undefined {
    return this.referSeqs.find((pair) => pair[from] === id)?.[otherSide(from)];
  }

  sideOf(dialog: Dialog): Side {
    return this.legs.set === dialog ? 'set' : 'pbx';
  }

  /**
   * SDP bodies are rewritten to the gateway's media ports on the receiving side; other bodies
   * pass as they are. An SDP we cannot anchor (malformed, too many streams, inside a multipart
   * body where it would slip past the relay) is refused with a 488.
   */
  async body(from: Side, msg: SipMessage): Promise<Buffer | undefined> {
    if (msg.body.length === 0) return undefined;
    const type = (msg.contentType ?? '').toLowerCase();
    if (type.startsWith('multipart/') && /application\/sdp/i.test(msg.body.toString('latin1'))) {
      throw new RelayRefusal(488, 'Not Acceptable Here (SDP inside a multipart body)');
    }
    if (!isSdp(msg) || !this.media) return msg.body;
    try {
      return await this.media.rewrite(from, msg.body);
    } catch (e) {
      if (e instanceof MediaStreamLimitError) throw new RelayRefusal(488, `Not Acceptable Here (more than ${e.limit} media streams)`);
      if (e instanceof SdpError) throw new RelayRefusal(488, 'Not Acceptable Here (malformed SDP)', e.message);
      throw e;
    }
  }

  markEstablished(): void {
    if (this.established || !this.isCall) return;
    this.established = true;
    this.ctx.counters.callsTotal++;
    this.ctx.counters.callsActive++;
  }

  /**
   * Session timers (RFC 4028) negotiated between the endpoints, through the gateway: a 2xx to an
   * INVITE or UPDATE with Session-Expires starts the session's clock again; when it runs out
   * with no refresh, the endpoints are gone (or stuck) and the call is hung up on both sides, as
   * a proxy on the path may (§8.3). A 2xx without it turns the timer off.
   */
  noteSessionRefresh(response: SipMessage): void {
    clearTimeout(this.sessionTimer);
    this.sessionTimer = undefined;
    const seconds = Number(/^\s*(\d{1,9})/.exec(response.get('session-expires') ?? '')?.[1]);
    if (!(seconds > 0) || this.ended) return;
    this.sessionTimer = setTimeout(() => {
      this.ctx.logger.info({ seconds, user: this.setUser, peer: this.peer }, 'session timer expired (no refresh within Session-Expires): hanging up');
      for (const side of ['set', 'pbx'] as const) {
        const reason: [string, string] = ['Reason', 'SIP;cause=408;text="session timer expired"'];
        void this.legs[side]?.request('BYE', { headers: [reason], auth: side === 'pbx' ? this.icpAuth() : undefined }).catch(() => undefined);
      }
      this.end('session timer expired');
    }, seconds * 1000);
    this.sessionTimer.unref();
  }

  /** Forget both legs and release the media ports. Idempotent. */
  end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.sessionTimer);
    this.ctx.calls.delete(this);
    for (const side of ['set', 'pbx'] as const) {
      const leg = this.legs[side];
      if (leg) this.ctx.dialogs[side].remove(leg);
    }
    if (this.established) this.ctx.counters.callsActive--;
    void this.media?.close();
    this.ctx.logger.debug({ method: this.method, why, seconds: Math.round((this.ctx.now() - this.startedAt) / 1000) }, 'relayed dialog ended');
  }

  /** The set's connection died: hang up toward the pbx so nobody stays in a dead call. */
  onSetFlowClosed(flow: Flow): boolean {
    const leg = this.legs.set;
    if (!leg || leg.state.flow?.id !== flow.id || this.ended) return false;
    // Still ringing on the far side: stop it ringing.
    if (!this.established) void this.pending?.cancel('SIP;cause=480;text="the set\'s connection closed"');
    const pbxLeg = this.legs.pbx;
    if (pbxLeg && this.established) {
      pbxLeg.request('BYE', { headers: [['Reason', 'SIP;cause=480;text="the set\'s connection closed"']], auth: this.icpAuth() }).catch(() => undefined);
    }
    this.end('set connection closed');
    return true;
  }

  /** What the status page shows of this call. */
  view(): CallView {
    const media = this.media?.stats;
    return {
      user: this.setUser ?? '?', direction: this.callerSide === 'set' ? 'outgoing' : 'incoming', peer: this.peer,
      state: this.established ? 'connected' : 'ringing', since: new Date(this.startedAt).toISOString(),
      media: { fromSet: media?.received.set ?? 0, toSet: media?.pbxToSet.packets ?? 0, refused: (media?.refused.set ?? 0) + (media?.refused.pbx ?? 0) },
      ...(media?.warning ? { warning: media.warning } : {}),
    };
  }

  icpAuth(): ReturnType<GatewayContext['pbx']['icp']> {
    return this.setUser ? this.ctx.pbx.icp(this.setUser) : undefined;
  }
}

/**
 * The gateway's Contact on one side: toward the pbx its pbx-side listener, toward a set the
 * public address on the port and transport of the set's flow.
 */
export function gatewayContact(ctx: GatewayContext, side: Side, flow: Flow | undefined): string {
  if (side === 'pbx') return ctx.pbx.contact(GATEWAY_CONTACT_USER);
  const protocol = flow?.protocol ?? 'udp';
  const port = flow?.local.port ?? ctx.setApp.transport.sentBy('udp').port;
  const host = ctx.publicAddress.includes(':') ? `[${ctx.publicAddress}]` : ctx.publicAddress;
  return `<sip:${GATEWAY_CONTACT_USER}@${host}:${port}${protocol === 'udp' ? '' : `;transport=${protocol}`}>`;
}

/** A Call-ID for a new leg: toward sets it names only the public address (nothing internal shows). */
export function newLegCallId(ctx: GatewayContext, side: Side): string {
  return side === 'set' ? newCallId(ctx.publicAddress) : ctx.pbx.newCallId();
}

/** Methods whose requests and successful responses carry a Contact (dialog creation, target refresh). */
export const CONTACT_METHODS = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

/** A call has a few streams at most (audio, video, maybe a second audio): each costs relay ports. */
export const MAX_MEDIA_STREAMS = 4;

/** The relay refuses what it was given, with this status (e.g. 488 for SDP it cannot anchor). */
export class RelayRefusal extends Error {
  constructor(readonly status: number, readonly reason: string, detail?: string) {
    super(detail ? `${reason}: ${detail}` : reason);
  }
}

export function isSdp(msg: SipMessage): boolean {
  return (msg.contentType ?? '').toLowerCase().split(';')[0].trim() === 'application/sdp';
}
