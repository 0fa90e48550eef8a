import type { NameAddr } from '@psi-lab/sip';

export interface ExpiryPolicy {
  /** Shorter non-zero requests are refused with 423 Interval Too Brief (RFC 3261 §10.3 step 6). */
  minExpires: number;
  /** Longer requests are granted this much. */
  maxExpires: number;
  /** When neither the contact nor the request says. */
  defaultExpires: number;
}

export const DEFAULT_EXPIRY: ExpiryPolicy = { minExpires: 60, maxExpires: 3600, defaultExpires: 3600 };

/**
 * The expiry a contact asks for: its own `expires` parameter, else the request's Expires
 * header, else the default. Returns undefined for a value that is not a number.
 */
export function requestedExpiry(contact: NameAddr, headerExpires: number | undefined, policy: ExpiryPolicy): number | undefined {
  const param = contact.params.get('expires');
  if (typeof param === 'string') {
    if (!/^\d{1,10}$/.test(param.trim())) return undefined;
    return Number(param.trim());
  }
  return headerExpires ?? policy.defaultExpires;
}
