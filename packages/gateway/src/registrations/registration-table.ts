import { randomBytes } from 'node:crypto';
import type { Flow } from '@psi-lab/sip';
import type { RegisteredSetView } from '../status/types.js';

/** One set's binding, held by the gateway and mirrored at the pbx under a contact of ours. */
export interface SetRegistration {
  /** The user part of the contact the pbx knows this binding by: how its calls find the set. */
  readonly token: string;
  readonly user: string;
  /** The set's own Contact URI. */
  contact: string;
  /** +sip.instance when the set sent one (RFC 5626), else undefined. */
  instance: string | undefined;
  device: string;
  /** The flow the set registered over: calls to it go back this way. */
  flow: Flow;
  since: number;
  expiresAt: number;
  /** Call-ID and last CSeq of the gateway's own registration at the pbx. */
  readonly pbxCallId: string;
  pbxCseq: number;
  /** When the next keepalive OPTIONS is due. */
  keepaliveDue: number;
}

/** The registered sets, found by token (calls from the pbx), by user (+ instance or contact), and by flow. */
export class RegistrationTable {
  private readonly byToken = new Map<string, SetRegistration>();
  private readonly byBinding = new Map<string, SetRegistration>();
  private readonly byFlow = new Map<string, Set<SetRegistration>>();
  private readonly byUser = new Map<string, Set<SetRegistration>>();
  private readonly queues = new Map<string, Promise<unknown>>();

  /** Run `work` after whatever is queued for this binding key: one binding's changes never interleave. */
  serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return next;
  }

  get size(): number {
    return this.byToken.size;
  }

  /** A fresh contact user part: unguessable, so nobody can call a set past the pbx. */
  static newToken(): string {
    return `s${randomBytes(9).toString('base64url')}`;
  }

  static bindingKey(user: string, instance: string | undefined, contact: string): string {
    return `${user}\u0000${instance ?? contact}`;
  }

  find(user: string, instance: string | undefined, contact: string): SetRegistration | undefined {
    return this.byBinding.get(RegistrationTable.bindingKey(user, instance, contact));
  }

  byTokenOf(token: string): SetRegistration | undefined {
    return this.byToken.get(token);
  }

  hasUser(user: string): boolean {
    return this.byUser.has(user);
  }

  forUser(user: string): SetRegistration[] {
    return [...(this.byUser.get(user) ?? [])];
  }

  forFlow(flowId: string): SetRegistration[] {
    return [...(this.byFlow.get(flowId) ?? [])];
  }

  /**
   * Add a new binding, or take note that an existing one moved to another flow. (Its binding
   * key cannot change: a binding is found by that very key before it is refreshed.)
   */
  upsert(reg: SetRegistration, previousFlowId?: string): void {
    if (previousFlowId !== undefined && previousFlowId !== reg.flow.id) detach(this.byFlow, previousFlowId, reg);
    this.byToken.set(reg.token, reg);
    this.byBinding.set(RegistrationTable.bindingKey(reg.user, reg.instance, reg.contact), reg);
    attach(this.byFlow, reg.flow.id, reg);
    attach(this.byUser, reg.user, reg);
  }

  remove(reg: SetRegistration): void {
    if (this.byToken.get(reg.token) !== reg) return;
    this.byToken.delete(reg.token);
    const key = RegistrationTable.bindingKey(reg.user, reg.instance, reg.contact);
    if (this.byBinding.get(key) === reg) this.byBinding.delete(key);
    detach(this.byFlow, reg.flow.id, reg);
    detach(this.byUser, reg.user, reg);
  }

  all(): IterableIterator<SetRegistration> {
    return this.byToken.values();
  }

  views(): RegisteredSetView[] {
    return [...this.byToken.values()].map((r) => ({
      user: r.user,
      device: r.device,
      ...(r.instance ? { instance: r.instance.replace(/^"?<?|>?"?$/g, '') } : {}),
      transport: r.flow.protocol.toUpperCase(),
      source: `${r.flow.remote.address}:${r.flow.remote.port}`,
      since: new Date(r.since).toISOString(),
      expires: new Date(r.expiresAt).toISOString(),
    }));
  }
}

function attach<K>(index: Map<K, Set<SetRegistration>>, key: K, reg: SetRegistration): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(reg);
}

function detach<K>(index: Map<K, Set<SetRegistration>>, key: K, reg: SetRegistration): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(reg);
  if (set.size === 0) index.delete(key);
}
