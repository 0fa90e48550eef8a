import type { GatewayContext } from '../context.js';
import type { B2bCall } from './b2b-call.js';

/** A call with neither SIP nor RTP for this long is taken for dead (its sets vanished without a BYE). */
export const CALL_IDLE_LIMIT_MS = 60 * 60_000;
/** A subscription not refreshed within its Expires (plus this grace) is over (RFC 6665 §4.1.2.1). */
const SUBSCRIPTION_GRACE_MS = 32_000;

/**
 * Ends relayed dialogs nobody will end: calls whose sets disappeared without a BYE (UDP sets
 * leave no closed connection behind) and subscriptions left to expire. Without it their
 * dialogs and media ports would stay taken for good.
 */
export class DialogReaper {
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new WeakMap<B2bCall, { packets: number; since: number }>();

  constructor(private readonly ctx: GatewayContext) {}

  start(intervalMs = 60_000): void {
    this.timer = setInterval(() => this.sweep(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  sweep(): number {
    const now = this.ctx.now();
    const calls = new Set<B2bCall>();
    for (const table of [this.ctx.dialogs.set, this.ctx.dialogs.pbx]) for (const d of table.values()) calls.add(d.owner as B2bCall);
    let ended = 0;
    for (const call of calls) {
      if (call.ended) continue;
      if (!call.isCall) {
        if (call.expiresAt !== undefined && now > call.expiresAt + SUBSCRIPTION_GRACE_MS) {
          call.end('subscription expired');
          ended++;
        }
        continue;
      }
      const stats = call.media?.stats;
      const packets = stats ? stats.setToPbx.packets + stats.pbxToSet.packets : 0;
      const last = this.seen.get(call);
      const activeSince = Math.max(call.lastActivity, last && last.packets === packets ? last.since : now);
      this.seen.set(call, { packets, since: last && last.packets === packets ? last.since : now });
      if (now - activeSince >= CALL_IDLE_LIMIT_MS) {
        this.ctx.logger.info({ idleMinutes: Math.round((now - activeSince) / 60_000) }, 'call without SIP or RTP: hanging up');
        for (const side of ['set', 'pbx'] as const) {
          void call.legs[side]?.request('BYE', { headers: [['Reason', 'SIP;cause=408;text="no media"']], auth: side === 'pbx' ? call.icpAuth() : undefined }).catch(() => undefined);
        }
        call.end('idle');
        ended++;
      }
    }
    return ended;
  }
}
