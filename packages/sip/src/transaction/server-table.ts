import type { SipRequest } from '../message/index.js';
import { legacyKey, matchesLegacy, serverKey } from './matching.js';
import type { ServerTransaction } from './server-transaction.js';

/**
 * The live server transactions, indexed two ways (§17.2.3): by branch key for RFC 3261
 * requests, and by Call-ID + CSeq number for RFC 2543 ones, whose few candidates are then
 * compared field by field. Each transaction sits in exactly one index.
 */
export class ServerTransactionTable {
  private readonly byKey = new Map<string, ServerTransaction>();
  private readonly legacy = new Map<string, ServerTransaction[]>();

  get size(): number {
    let count = this.byKey.size;
    for (const list of this.legacy.values()) count += list.length;
    return count;
  }

  /** The transaction a request belongs to; `asMethod` matches it as if it had that method (CANCEL → INVITE). */
  find(request: SipRequest, asMethod?: string): ServerTransaction | undefined {
    const key = serverKey(request, asMethod);
    if (key !== undefined) return this.byKey.get(key);
    return this.legacy.get(legacyKey(request))?.find((tx) => matchesLegacy(tx, request, asMethod));
  }

  add(transaction: ServerTransaction): void {
    const key = serverKey(transaction.request);
    if (key !== undefined) {
      this.byKey.set(key, transaction);
      return;
    }
    const bucket = legacyKey(transaction.request);
    const list = this.legacy.get(bucket);
    if (list) list.push(transaction);
    else this.legacy.set(bucket, [transaction]);
  }

  remove(transaction: ServerTransaction): void {
    const key = serverKey(transaction.request);
    if (key !== undefined) {
      if (this.byKey.get(key) === transaction) this.byKey.delete(key);
      return;
    }
    const bucket = legacyKey(transaction.request);
    const remaining = (this.legacy.get(bucket) ?? []).filter((tx) => tx !== transaction);
    if (remaining.length > 0) this.legacy.set(bucket, remaining);
    else this.legacy.delete(bucket);
  }
}
