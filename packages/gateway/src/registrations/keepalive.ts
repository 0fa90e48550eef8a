import type { Flow } from '@psi-lab/sip';
import type { GatewayContext } from '../context.js';
import { unregister } from './register-relay.js';
import type { SetRegistration } from './registration-table.js';
import { setDestination } from './set-destination.js';

/**
 * Keeps registered sets alive and the table honest: an OPTIONS to each set every interval (it
 * also keeps the set's NAT mapping open); a set that does not answer, whose binding expired, or
 * whose connection died is removed here and at the pbx.
 */
export class Keepalive {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new WeakSet<SetRegistration>();

  constructor(private readonly ctx: GatewayContext) {}

  start(tickMs = 1000): void {
    this.ctx.setApp.transport.on('flow-closed', (flow) => this.onFlowClosed(flow));
    this.timer = setInterval(() => this.tick(), tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Check every binding once: expired ones go, due ones are pinged. */
  tick(): void {
    const now = this.ctx.now();
    // A Map may lose entries while it is iterated: no copy of 10,000 bindings each second.
    for (const reg of this.ctx.registrations.all()) {
      if (reg.expiresAt <= now) {
        // The pbx expires its copy at the same moment: nothing to tell it.
        this.ctx.registrations.remove(reg);
        this.ctx.counters.registrations = this.ctx.registrations.size;
        this.ctx.logger.info({ user: reg.user, device: reg.device }, 'registration expired');
        continue;
      }
      if (this.ctx.keepaliveMs > 0 && reg.keepaliveDue <= now && !this.inFlight.has(reg)) {
        reg.keepaliveDue = now + this.ctx.keepaliveMs;
        void this.ping(reg);
      }
    }
  }

  private async ping(reg: SetRegistration): Promise<void> {
    this.inFlight.add(reg);
    // A set gets until its next keepalive is due to answer (2 to 32 s; OPTIONS is retransmitted meanwhile).
    const deadline = Math.min(32_000, Math.max(2_000, this.ctx.keepaliveMs));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.ctx.setApp.request({
          method: 'OPTIONS', uri: reg.contact, destination: setDestination(reg.contact, reg.flow, reg.instance !== undefined),
          from: `<sip:keepalive@${this.ctx.publicAddress}>`, to: `<${reg.contact}>`,
        }),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${deadline / 1000} s`)), deadline);
        }),
      ]);
      // Any answer, even 404 or 405, shows the set is there.
    } catch (e) {
      if (this.ctx.registrations.byTokenOf(reg.token) !== reg) return;
      this.ctx.counters.keepaliveFailures++;
      await unregister(this.ctx, reg, `keepalive failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(reg);
    }
  }

  private onFlowClosed(flow: Flow): void {
    for (const reg of this.ctx.registrations.forFlow(flow.id)) {
      // A set reached at its own contact (not behind NAT, plain UDP/TCP) does not depend on this flow.
      if (setDestination(reg.contact, reg.flow, reg.instance !== undefined).flow === undefined) continue;
      this.ctx.counters.keepaliveFailures++;
      void unregister(this.ctx, reg, 'its connection closed');
    }
  }
}
