import type { Logger } from 'pino';
import type { Referral, Session, URI } from 'sip.js';

/** How a transfer ended, as the transferee's last NOTIFY told it (or the REFER's refusal). */
export interface TransferResult {
  /** The transfer target answered: the call now runs between the other party and the target. */
  completed: boolean;
  /** The target's final status (from the NOTIFY's sipfrag), or the REFER's when it was refused. */
  status: number;
  reason: string;
}

/** How long a transferor waits for the transferee's final NOTIFY: a target rings up to 3 minutes. */
const TRANSFER_LIMIT_MS = 200_000;
/** The lifetime our NOTIFYs give the REFER's subscription while the target is tried. */
const SUBSCRIPTION_SECONDS = 180;

/**
 * The transferor's side (RFC 3515, RFC 5589): REFER the other party of `session` to `target` — a
 * URI (blind transfer) or another established session of ours (attended: the REFER carries
 * Replaces for it) — and follow the transferee's NOTIFYs until one says how the call to the
 * target ended.
 */
export function sendTransfer(session: Session, target: URI | Session, limitMs = TRANSFER_LIMIT_MS): Promise<TransferResult> {
  return new Promise<TransferResult>((resolve) => {
    let settled = false;
    const finish = (result: TransferResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ completed: false, status: 408, reason: 'no final NOTIFY from the transferee' }), limitMs);
    timer.unref();
    session.refer(target, {
      requestDelegate: {
        onReject: (response) => finish({ completed: false, status: response.message.statusCode ?? 500, reason: response.message.reasonPhrase ?? '' }),
      },
      onNotify: (notification) => {
        void notification.accept();
        const frag = /^SIP\/2\.0\s+(\d{3})\s*([^\r\n]*)/.exec(notification.request.body ?? '');
        const status = frag ? Number(frag[1]) : 0;
        if (status >= 200) return finish({ completed: status < 300, status, reason: frag![2] });
        // A subscription ended without a final status: the transferee gave up telling us.
        if (/^\s*terminated/i.test(notification.request.getHeader('subscription-state') ?? '')) {
          finish({ completed: false, status: 0, reason: 'the transferee ended the subscription without an outcome' });
        }
      },
    }).catch((e: Error) => finish({ completed: false, status: 500, reason: e.message }));
  });
}

/**
 * The transferee's side: accept the REFER (202), call its Refer-To target (with Replaces and
 * Referred-By when it names them), and tell the transferor how that call goes with NOTIFYs of
 * `message/sipfrag` — `Event: refer;id=<the REFER's CSeq>`, `active` while it rings, `terminated`
 * with the final status (RFC 3515 §2.4.4–2.4.6). Resolves with what `place` gave, or undefined
 * when the call could not be placed.
 */
export async function followTransfer<T>(referral: Referral, session: Session, place: (target: URI, extraHeaders: string[], onResponse: (status: number, reason: string) => void) => Promise<T>, logger?: Logger): Promise<T | undefined> {
  const id = referral.request.cseq;
  let terminated = false;
  const notify = (status: number, reason: string): void => {
    const dialog = session.dialog;
    // The transferor may hang up before it hears the outcome: nobody is left to tell.
    if (!dialog || terminated) return;
    const final = status >= 200;
    terminated = final;
    dialog.notify(undefined, {
      extraHeaders: [`Event: refer;id=${id}`, `Subscription-State: ${final ? 'terminated;reason=noresource' : `active;expires=${SUBSCRIPTION_SECONDS}`}`],
      body: { contentDisposition: 'render', contentType: 'message/sipfrag;version=2.0', content: `SIP/2.0 ${status} ${reason}`.trim() },
    });
  };
  await referral.accept();
  notify(100, 'Trying');
  const target = referral.referTo.uri.clone();
  target.clearHeaders();
  const extraHeaders: string[] = [];
  if (referral.replaces) extraHeaders.push(`Replaces: ${decodeURIComponent(referral.replaces)}`);
  if (referral.referredBy) extraHeaders.push(`Referred-By: ${referral.referredBy}`);
  try {
    return await place(target, extraHeaders, (status, reason) => {
      if (status > 100) notify(status, reason);
    });
  } catch (e) {
    logger?.warn({ err: (e as Error).message, target: target.toString() }, 'transfer target not called');
    notify(503, 'Service Unavailable');
    return undefined;
  }
}
