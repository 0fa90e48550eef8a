import { SipParseError, parseUri, uriEquals, type IncomingRequest, type NameAddr, type OutgoingResponse, type RequestHandler } from '@psi-lab/sip';
import type { Binding, PbxStore } from '../store/types.js';
import { DEFAULT_EXPIRY, requestedExpiry, type ExpiryPolicy } from './contact-expiry.js';

export interface RegistrarOptions extends Partial<ExpiryPolicy> {
  store: PbxStore;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

/** What the authentication middleware leaves for the registrar. */
export interface AuthenticatedLocals {
  /** The extension the request was authenticated as. */
  user?: string;
}

/**
 * The registrar of RFC 3261 §10.3 as a request handler (`app.register(registrar(...))`), with
 * Path (RFC 3327) and outbound flows (RFC 5626): bindings per address of record, several
 * contacts each, persisted so a restart keeps them.
 */
export function registrar(options: RegistrarOptions): RequestHandler {
  const policy: ExpiryPolicy = { ...DEFAULT_EXPIRY, ...definedOnly(options) };
  const now = options.now ?? Date.now;
  const { store } = options;

  return (req, res) => {
    const aor = addressOfRecord(req);
    if (aor === undefined) return void res.send(404, { headers: { Warning: '399 pbx "To must name an extension"' } });
    if (!store.getSubscriber(aor)) return void res.send(404);
    const user = (req.locals as AuthenticatedLocals).user;
    // Third-party registration is not allowed: a set registers itself (step 3).
    if (user !== undefined && user !== aor) return void res.send(403, { headers: { Warning: `399 pbx "${user} may not register ${aor}"` } });

    const t = now();
    const existing = store.bindings(aor).filter((b) => b.expiresAt > t);
    const contacts = req.msg.contacts;
    const callId = req.callId;
    const cseq = req.msg.cseq.seq;

    if (contacts === '*') {
      // Step 6: "*" only with Expires: 0 and alone.
      if (req.msg.expires !== 0 || req.getAll('contact').length !== 1) return void res.send(400, { headers: { Warning: '399 pbx "Contact: * needs Expires: 0 and no other Contact"' } });
      if (existing.some((b) => b.callId === callId && b.cseq >= cseq)) return void res.send(500, { headers: { 'Retry-After': 1 } });
      store.replaceBindings(aor, []);
      return void ok(res, [], t);
    }

    // A query (no Contact) changes nothing: answer from what is stored, without a write.
    if (contacts.length === 0) return void ok(res, existing, t);

    const supported = new Set(req.getAll('supported').map((s) => s.toLowerCase()));
    const path = supported.has('path') ? req.getAll('path') : [];
    const updated = [...existing];
    for (const contact of contacts) {
      const asked = requestedExpiry(contact, req.msg.expires, policy);
      if (asked === undefined) return void res.send(400, { headers: { Warning: '399 pbx "bad expires value"' } });
      if (asked > 0 && asked < policy.minExpires) return void res.send(423, { headers: { 'Min-Expires': policy.minExpires } });
      const instanceId = unquoted(contact.params.get('+sip.instance'));
      const regIdText = contact.params.get('reg-id');
      const regId = supported.has('outbound') && instanceId && typeof regIdText === 'string' ? Number(regIdText) : null;
      const index = updated.findIndex((b) => sameBinding(b, contact, instanceId, regId));
      const previous = index >= 0 ? updated[index] : undefined;
      // Step 7: an older or repeated request of the same Call-ID must not undo a newer one.
      if (previous && previous.callId === callId && previous.cseq >= cseq) return void res.send(500, { headers: { 'Retry-After': 1 } });
      if (asked === 0) {
        if (index >= 0) updated.splice(index, 1);
        continue;
      }
      const binding: Binding = {
        aor,
        contact: contact.uri.toString(),
        expiresAt: t + Math.min(asked, policy.maxExpires) * 1000,
        q: qValue(contact),
        callId,
        cseq,
        instanceId,
        regId,
        path,
        flowId: req.flow.id,
        source: `${req.flow.remote.address}:${req.flow.remote.port}`,
        transport: req.flow.protocol,
        userAgent: req.get('user-agent') ?? '',
        updatedAt: t,
      };
      if (index >= 0) updated[index] = binding;
      else updated.push(binding);
    }
    store.replaceBindings(aor, updated);
    const headers: Array<[string, string]> = [];
    if (path.length > 0) headers.push(['Path', path.join(', ')]);
    if (updated.some((b) => b.regId !== null && b.flowId === req.flow.id)) headers.push(['Require', 'outbound']);
    ok(res, updated, t, headers);
  };
}

/** The AoR is the To URI's user: the extension (a single-domain pbx, like the MiVoice 5000). */
function addressOfRecord(req: IncomingRequest): string | undefined {
  try {
    const uri = req.msg.to.uri;
    return 'user' in uri && uri.user ? uri.user : undefined;
  } catch (e) {
    if (e instanceof SipParseError) return undefined;
    throw e;
  }
}

function sameBinding(b: Binding, contact: NameAddr, instanceId: string | null, regId: number | null): boolean {
  // RFC 5626 §6: with outbound, the (instance, reg-id) pair names the binding, whatever its URI.
  if (regId !== null && instanceId) return b.instanceId === instanceId && b.regId === regId;
  return uriEquals(parseUri(b.contact), contact.uri);
}

function ok(res: OutgoingResponse, bindings: Binding[], t: number, extra: Array<[string, string]> = []): void {
  const headers: Array<[string, string]> = bindings.map((b) => ['Contact', contactValue(b, t)]);
  headers.push(['Date', new Date(t).toUTCString()], ...extra);
  void res.send(200, { headers });
}

function contactValue(b: Binding, t: number): string {
  let value = `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - t) / 1000))}`;
  if (b.q !== 1) value += `;q=${b.q}`;
  if (b.instanceId) value += `;+sip.instance="${b.instanceId}"`;
  if (b.regId !== null) value += `;reg-id=${b.regId}`;
  return value;
}

function qValue(contact: NameAddr): number {
  const q = contact.params.get('q');
  const n = typeof q === 'string' ? Number(q) : 1;
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : 1;
}

function unquoted(value: string | null | undefined): string | null {
  if (typeof value !== 'string') return null;
  return value.replace(/^"(.*)"$/, '$1');
}

function definedOnly(o: Partial<ExpiryPolicy>): Partial<ExpiryPolicy> {
  const out: Partial<ExpiryPolicy> = {};
  if (o.minExpires !== undefined) out.minExpires = o.minExpires;
  if (o.maxExpires !== undefined) out.maxExpires = o.maxExpires;
  if (o.defaultExpires !== undefined) out.defaultExpires = o.defaultExpires;
  return out;
}
