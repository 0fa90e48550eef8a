import type { Binding, Forwarding, ForwardKind, Subscriber } from './types.js';

/** The tables' rows as better-sqlite3 returns them, and their mapping to the store's types. */

export interface SubscriberRow {
  extension: string;
  name: string;
  email: string;
  role: string | null;
  dnd_allowed: number;
  dnd_active: number;
  created_at: string;
  updated_at: string;
}

export interface ForwardingRow {
  extension: string;
  kind: ForwardKind;
  target: string;
  delay_seconds: number | null;
}

export interface BindingRow {
  aor: string;
  contact: string;
  expires_at: number;
  q: number;
  call_id: string;
  cseq: number;
  instance_id: string | null;
  reg_id: number | null;
  path: string;
  flow_id: string;
  source: string;
  transport: string;
  user_agent: string;
  updated_at: number;
}

export function toSubscriber(row: SubscriberRow, forwardingRows: ForwardingRow[]): Subscriber {
  const order: ForwardKind[] = ['all', 'busy', 'noAnswer'];
  const forwardings = forwardingRows
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind))
    .map((f): Forwarding => (f.delay_seconds === null ? { kind: f.kind, target: f.target } : { kind: f.kind, target: f.target, delaySeconds: f.delay_seconds }));
  return {
    extension: row.extension,
    name: row.name,
    email: row.email,
    role: row.role,
    dndAllowed: row.dnd_allowed === 1,
    dndActive: row.dnd_active === 1,
    forwardings,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toBinding(row: BindingRow): Binding {
  return {
    aor: row.aor, contact: row.contact, expiresAt: row.expires_at, q: row.q, callId: row.call_id, cseq: row.cseq,
    instanceId: row.instance_id, regId: row.reg_id, path: JSON.parse(row.path) as string[], flowId: row.flow_id,
    source: row.source, transport: row.transport, userAgent: row.user_agent, updatedAt: row.updated_at,
  };
}
