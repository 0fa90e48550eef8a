import type { IncomingRequest, NameAddr, RequestHandler, SipResponse } from '@psi-lab/sip';
import type { GatewayContext, SetLocals } from '../context.js';
import { RegistrationTable, type SetRegistration } from './registration-table.js';

const DEFAULT_EXPIRES = 3600;
/** A user's devices: desk phone, desktop and mobile softphones, and some room to spare (Kamailio's max_contacts). */
const MAX_BINDINGS_PER_USER = 10;
const MAX_CONTACTS_PER_REGISTER = 10;

/**
 * REGISTER from an authenticated set: each of its contacts becomes a binding of ours at the pbx
 * (a contact of the gateway whose user part is the binding's token), so the pbx never sees the
 * set's address and its calls come back to us. The set gets the pbx's verdict and expiry.
 */
export function registerRelay(ctx: GatewayContext): RequestHandler {
  return async (req, res) => {
    const user = (req.locals as SetLocals).user!;
    const aor = req.msg.to.uri;
    if (!('user' in aor) || aor.user !== user) {
      // One may only register oneself: the digest user and the AoR must agree.
      void res.send(403, 'Forbidden (To does not name the authenticated user)');
      return;
    }
    const contacts = req.msg.contacts;
    if (contacts === '*') {
      if (req.msg.expires !== 0) return void res.send(400, 'Bad Request (Contact * needs Expires: 0)');
      await Promise.all(ctx.registrations.forUser(user).map((r) => unregister(ctx, r, 'set removed all its bindings')));
      return void res.send(200);
    }
    const headerExpires = req.msg.expires;
    if (contacts.length > MAX_CONTACTS_PER_REGISTER) {
      return void res.send(403, `Forbidden (at most ${MAX_CONTACTS_PER_REGISTER} contacts in one REGISTER)`);
    }
    for (const contact of contacts) {
      const expires = contactExpires(contact, headerExpires);
      const instance = contact.params.get('+sip.instance') ?? undefined;
      const uri = contact.uri.toString();
      // One binding's REGISTERs, refreshes and unREGISTERs go to the pbx one at a time, in order.
      const outcome = await ctx.registrations.serialize(RegistrationTable.bindingKey(user, instance ?? undefined, uri), async () => {
        const existing = ctx.registrations.find(user, instance ?? undefined, uri);
        if (expires === 0) {
          if (existing) await unregister(ctx, existing, 'set unregistered');
          return { status: 200 } as PbxOutcome;
        }
        if (!existing && ctx.registrations.forUser(user).length >= MAX_BINDINGS_PER_USER) {
          return { status: 403, reason: `Forbidden (at most ${MAX_BINDINGS_PER_USER} devices a user)` } as PbxOutcome;
        }
        return registerAtPbx(ctx, req, user, uri, instance ?? undefined, expires, existing);
      });
      if (outcome.status !== 200) {
        const headers: Array<[string, string]> = [];
        const minExpires = outcome.response?.get('min-expires');
        if (minExpires) headers.push(['Min-Expires', minExpires]);
        return void res.send(outcome.status, outcome.reason, { headers });
      }
    }
    // The set learns its own bindings, with what the pbx granted (§10.3 step 8).
    const now = ctx.now();
    const mine = ctx.registrations.forUser(user).map((r): [string, string] => ['Contact', `<${r.contact}>;expires=${Math.max(0, Math.round((r.expiresAt - now) / 1000))}${r.instance ? `;+sip.instance=${r.instance}` : ''}`]);
    void res.send(200, { headers: [...mine, ['Date', new Date(now).toUTCString()]] });
  };
}

function contactExpires(contact: NameAddr, headerExpires: number | undefined): number {
  const param = contact.params.get('expires');
  const n = typeof param === 'string' && /^\d+$/.test(param) ? Number(param) : headerExpires ?? DEFAULT_EXPIRES;
  return Math.min(n, 2 ** 31 - 1);
}

interface PbxOutcome {
  status: number;
  reason?: string;
  response?: SipResponse;
}

async function registerAtPbx(ctx: GatewayContext, req: IncomingRequest, user: string, contact: string, instance: string | undefined, expires: number, existing: SetRegistration | undefined): Promise<PbxOutcome> {
  const token = existing?.token ?? RegistrationTable.newToken();
  const callId = existing?.pbxCallId ?? ctx.pbx.newCallId();
  const cseq = (existing?.pbxCseq ?? 0) + 1;
  const auth = ctx.pbx.icp(user);
  if (!auth) return { status: 403, reason: 'Forbidden' };
  let result;
  try {
    result = await ctx.pbx.app.request({
      method: 'REGISTER', uri: ctx.pbx.uri(), destination: ctx.pbx.destination,
      from: `<sip:${auth.username}@${ctx.pbx.domain}>`, to: `<sip:${auth.username}@${ctx.pbx.domain}>`,
      callId, cseq,
      headers: [['Contact', `${ctx.pbx.contact(token)};expires=${expires}`], ['Expires', expires]],
      auth,
    });
  } catch (e) {
    ctx.logger.warn({ user, err: (e as Error).message }, 'pbx did not answer a REGISTER');
    return { status: 504, reason: 'Server Time-out (the pbx did not answer)' };
  }
  const response = result.response;
  const granted = grantedExpires(response, token, expires);
  if (response.status >= 300 || granted === undefined) {
    // The pbx refusing the gateway's own ICP credentials is not the set's fault to see in detail.
    const status = response.status === 401 || response.status === 407 ? 403 : response.status >= 300 ? response.status : 500;
    return { status, reason: status === response.status ? response.reason : undefined, response };
  }
  const now = ctx.now();
  // What an admin recognises: the phone's model and version; the instance URN only when nothing else names it.
  const device = req.get('user-agent')?.trim() || (instance ? instance.replace(/^"?<?|>?"?$/g, '') : 'unknown device');
  if (existing) {
    const previousFlow = existing.flow.id;
    existing.contact = contact;
    existing.flow = req.flow;
    existing.device = device;
    existing.expiresAt = now + granted * 1000;
    existing.pbxCseq = result.request.cseq.seq;
    ctx.registrations.upsert(existing, previousFlow);
  } else {
    ctx.registrations.upsert({
      token, user, contact, instance, device, flow: req.flow, since: now, expiresAt: now + granted * 1000,
      pbxCallId: callId, pbxCseq: result.request.cseq.seq, keepaliveDue: now + ctx.keepaliveMs,
    });
    ctx.logger.info({ user, device, transport: req.flow.protocol, source: `${req.sourceAddress}:${req.sourcePort}` }, 'set registered');
  }
  ctx.counters.registrations = ctx.registrations.size;
  return { status: 200 };
}

/** What the pbx granted our contact: its expires parameter in the 200, else the Expires header. */
function grantedExpires(response: SipResponse, token: string, asked: number): number | undefined {
  if (response.status >= 300) return undefined;
  const contacts = response.contacts;
  if (contacts === '*') return undefined;
  const ours = contacts.find((c) => 'user' in c.uri && c.uri.user === token);
  const param = ours?.params.get('expires');
  if (typeof param === 'string' && /^\d+$/.test(param)) return Number(param);
  return response.expires ?? asked;
}

/** Remove a set's binding here and at the pbx (unREGISTER); the pbx's answer is not waited for long. */
export async function unregister(ctx: GatewayContext, reg: SetRegistration, why: string): Promise<void> {
  ctx.registrations.remove(reg);
  ctx.counters.registrations = ctx.registrations.size;
  ctx.logger.info({ user: reg.user, device: reg.device, why }, 'set unregistered');
  const auth = ctx.pbx.icp(reg.user);
  reg.pbxCseq++;
  try {
    await ctx.pbx.app.request({
      method: 'REGISTER', uri: ctx.pbx.uri(), destination: ctx.pbx.destination,
      from: `<sip:${auth?.username ?? reg.user}@${ctx.pbx.domain}>`, to: `<sip:${auth?.username ?? reg.user}@${ctx.pbx.domain}>`,
      callId: reg.pbxCallId, cseq: reg.pbxCseq,
      headers: [['Contact', `${ctx.pbx.contact(reg.token)};expires=0`], ['Expires', 0]],
      auth,
    });
  } catch (e) {
    ctx.logger.warn({ user: reg.user, err: (e as Error).message }, 'pbx did not answer an unREGISTER');
  }
}
