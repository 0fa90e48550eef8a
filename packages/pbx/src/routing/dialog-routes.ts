import { normalizeAddress, type Destination, type IncomingRequest, type SipRequest } from '@psi-lab/sip';

/** One end of a dialog the pbx record-routed: where to send to it, and where it may send from. */
export interface DialogPeer {
  /** Decided when the dialog was made (a registration, the trunk, the caller's own flow): never by a later message. */
  destination: Destination;
  /** The address in-dialog requests from this peer must come from. */
  address: string;
}

export interface RoutedDialog {
  callId: string;
  callerTag: string;
  calleeTag: string;
  caller: DialogPeer;
  callee: DialogPeer;
  /** A 2xx was seen; until then the dialog is early (a 1xx with a To tag). */
  confirmed: boolean;
  touchedAt: number;
}

export interface DialogMatch {
  dialog: RoutedDialog;
  /** The peer the request came from, and the one it goes to. */
  from: DialogPeer;
  to: DialogPeer;
}

export interface DialogRouteLimits {
  /** An early dialog never confirmed is forgotten after this long (ms). */
  earlyMs: number;
  /** A confirmed dialog with no request through it for this long is forgotten (ms). */
  idleMs: number;
  /** At most this many dialogs are remembered; beyond it the least recently used goes. */
  max: number;
}

const DEFAULT_LIMITS: DialogRouteLimits = { earlyMs: 5 * 60_000, idleMs: 12 * 3600_000, max: 100_000 };

/**
 * The dialogs the pbx sits in (RFC 3261 §16.6 step 4: it record-routes every call). Requests
 * inside a dialog are routed by what is remembered here, never by a host a Request-URI or
 * Route names: a made-up dialog id is answered 481, a stranger's request for a real dialog
 * 403, and nothing the pbx sends goes where a message alone chose.
 */
export class DialogRoutes {
  private readonly dialogs = new Map<string, RoutedDialog>();
  /** The dialogs of each INVITE (Call-ID and caller's tag): a call that fails drops its early ones without a scan. */
  private readonly byInvite = new Map<string, Set<string>>();
  private readonly limits: DialogRouteLimits;

  constructor(private readonly now: () => number = Date.now, limits: Partial<DialogRouteLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  get size(): number {
    return this.dialogs.size;
  }

  /** A branch answered with a To tag: an early dialog (1xx) or a confirmed one (2xx). */
  record(invite: SipRequest, calleeTag: string, caller: DialogPeer, callee: DialogPeer, confirmed: boolean): void {
    const callerTag = invite.from.tag;
    if (!callerTag) return;
    const key = dialogKey(invite.callId, callerTag, calleeTag);
    const known = this.dialogs.get(key);
    this.dialogs.delete(key);
    this.dialogs.set(key, { callId: invite.callId, callerTag, calleeTag, caller, callee, confirmed: confirmed || (known?.confirmed ?? false), touchedAt: this.now() });
    const group = inviteKey(invite.callId, callerTag);
    this.byInvite.set(group, (this.byInvite.get(group) ?? new Set()).add(key));
    if (this.dialogs.size > this.limits.max) this.evictOne();
  }

  /** The INVITE ended without an answer: its early dialogs go. */
  dropEarly(invite: SipRequest): void {
    const callerTag = invite.from.tag;
    if (!callerTag) return;
    for (const key of [...(this.byInvite.get(inviteKey(invite.callId, callerTag)) ?? [])]) {
      const dialog = this.dialogs.get(key);
      if (dialog && !dialog.confirmed) this.forget(key, dialog);
    }
  }

  /** The dialog an in-dialog request belongs to, seen from whichever end sent it. */
  find(request: SipRequest): DialogMatch | undefined {
    const fromTag = request.from.tag;
    const toTag = request.to.tag;
    if (!fromTag || !toTag) return undefined;
    const fromCaller = this.dialogs.get(dialogKey(request.callId, fromTag, toTag));
    const dialog = fromCaller ?? this.dialogs.get(dialogKey(request.callId, toTag, fromTag));
    if (!dialog || this.expired(dialog)) return undefined;
    return fromCaller ? { dialog, from: dialog.caller, to: dialog.callee } : { dialog, from: dialog.callee, to: dialog.caller };
  }

  touch(dialog: RoutedDialog): void {
    const key = dialogKey(dialog.callId, dialog.callerTag, dialog.calleeTag);
    dialog.touchedAt = this.now();
    this.dialogs.delete(key);
    this.dialogs.set(key, dialog);
  }

  end(dialog: RoutedDialog): void {
    this.forget(dialogKey(dialog.callId, dialog.callerTag, dialog.calleeTag), dialog);
  }

  /** Forget what expired (run with the registrar's reaper: a pass over at most `max` entries). */
  sweep(): number {
    let removed = 0;
    for (const [key, dialog] of this.dialogs) {
      if (!this.expired(dialog)) continue;
      this.forget(key, dialog);
      removed++;
    }
    return removed;
  }

  private forget(key: string, dialog: RoutedDialog): void {
    this.dialogs.delete(key);
    const group = inviteKey(dialog.callId, dialog.callerTag);
    const keys = this.byInvite.get(group);
    keys?.delete(key);
    if (keys?.size === 0) this.byInvite.delete(group);
  }

  /**
   * Full: a call still ringing goes before one that was answered (the least recently used of
   * the first thousand), the least recently used of all when every one of those is answered.
   */
  private evictOne(): void {
    let looked = 0;
    for (const [key, dialog] of this.dialogs) {
      if (!dialog.confirmed) return this.forget(key, dialog);
      if (++looked >= 1000) break;
    }
    const [key, dialog] = this.dialogs.entries().next().value!;
    this.forget(key, dialog);
  }

  private expired(dialog: RoutedDialog): boolean {
    const age = this.now() - dialog.touchedAt;
    return age > (dialog.confirmed ? this.limits.idleMs : this.limits.earlyMs);
  }
}

/**
 * Where the sender of a dialog-making request is reached afterwards: over the flow it came on
 * (streams), else at the address it sent from — at its Contact's port when the Contact names
 * that very address (a set not behind NAT, the gateway's listener), at the source port when not.
 */
export function requesterPeer(req: IncomingRequest): DialogPeer {
  const address = normalizeAddress(req.sourceAddress);
  let port = req.sourcePort;
  try {
    const uri = req.msg.contact?.uri;
    if (uri && 'host' in uri && uri.host.replace(/^\[|\]$/g, '') === address && uri.port) port = uri.port;
  } catch {
    // An unreadable Contact: the source port is the only address left.
  }
  const destination: Destination = { protocol: req.protocol, address, port, ...(req.protocol === 'udp' ? {} : { flow: req.flow }) };
  return { destination, address };
}

export function peerAt(destination: Destination): DialogPeer {
  return { destination, address: normalizeAddress(destination.address) };
}

function inviteKey(callId: string, callerTag: string): string {
  return `${callId}\u0000${callerTag}`;
}

function dialogKey(callId: string, callerTag: string, calleeTag: string): string {
  return `${callId}\u0000${callerTag}\u0000${calleeTag}`;
}
