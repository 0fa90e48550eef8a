import { isIP } from 'node:net';
import { PASSWORD_POLICY, passwordWeakness } from './password-policy.js';
import { StoreError, type CloudLinkRole, type ForwardKind, type Forwarding, type MbgEntry } from './types.js';

/**
 * Field rules shared by every way in (REST API, CLI, lab seeding). Each failure is a
 * StoreError naming the field and saying what would be accepted.
 */

export const FORWARD_KINDS: readonly ForwardKind[] = ['all', 'busy', 'noAnswer'];
export const DEFAULT_NO_ANSWER_DELAY_SECONDS = 20;
const MAX_NO_ANSWER_DELAY_SECONDS = 300;

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;
// Deliberately loose: the lab uses addresses like dan@x; CloudLink only needs them unique.
const EMAIL = /^[^\s@<>()[\],;:"]+@[^\s@<>()[\],;:"]+$/;

function bad(field: string, message: string): StoreError {
  return new StoreError('bad-field', field, message);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw bad(field, `${field} must be a string`);
  return value;
}

function requireBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw bad(field, `${field} must be true or false`);
  return value;
}

/** Trimmed, non-empty, single-line text of bounded length. */
export function validateText(value: unknown, field: string, maxLength: number, options: { allowEmpty?: boolean } = {}): string {
  const text = requireString(value, field).trim();
  if (!text && !options.allowEmpty) throw bad(field, `${field} must not be empty`);
  if (text.length > maxLength) throw bad(field, `${field} is ${text.length} characters long; at most ${maxLength} are allowed`);
  if (CONTROL_CHARACTERS.test(text)) throw bad(field, `${field} must not contain control characters (tabs, line breaks)`);
  return text;
}

export function validateExtension(value: unknown, field = 'extension'): string {
  const extension = requireString(value, field);
  if (!/^[0-9]{2,10}$/.test(extension)) throw bad(field, `${field} must be 2 to 10 digits, e.g. 1004 (got "${extension}")`);
  return extension;
}

export function validateEmail(value: unknown): string {
  const email = requireString(value, 'email').trim();
  if (email.length > 254 || !EMAIL.test(email)) throw bad('email', `email "${email}" is not an e-mail address: write it as name@domain`);
  return email;
}

export function validatePassword(value: unknown, extension: string): string {
  const password = requireString(value, 'password');
  const weakness = passwordWeakness(password, extension);
  if (weakness) throw new StoreError('weak-password', 'password', `password is too weak (${weakness}): the policy is ${PASSWORD_POLICY}`);
  return password;
}

export function validateFlag(value: unknown, field: string): boolean {
  return requireBoolean(value, field);
}

/**
 * Checks a subscriber's complete forwarding list and returns it in a fixed order
 * (all, busy, noAnswer), a no-answer forwarding always carrying its delay.
 */
export function validateForwardings(extension: string, value: unknown): Forwarding[] {
  if (!Array.isArray(value)) throw bad('forwardings', 'forwardings must be a list of { kind, target, delaySeconds? }');
  const seen = new Set<ForwardKind>();
  const forwardings = value.map((item: unknown, index): Forwarding => {
    const field = `forwardings[${index}]`;
    if (typeof item !== 'object' || item === null) throw bad(field, `${field} must be an object { kind, target, delaySeconds? }`);
    const { kind, target, delaySeconds } = item as Record<string, unknown>;
    if (typeof kind !== 'string' || !(FORWARD_KINDS as readonly string[]).includes(kind)) {
      throw bad(`${field}.kind`, `forwarding kind must be all, busy or noAnswer (got ${JSON.stringify(kind)})`);
    }
    const forwardKind = kind as ForwardKind;
    if (seen.has(forwardKind)) throw bad(`${field}.kind`, `there are two "${forwardKind}" forwardings: keep one`);
    seen.add(forwardKind);
    if (typeof target !== 'string' || !/^\+?[0-9]{2,20}$/.test(target)) {
      throw bad(`${field}.target`, `a "${forwardKind}" forwarding needs a target extension or number (2 to 20 digits, got ${JSON.stringify(target)})`);
    }
    if (target === extension) throw bad(`${field}.target`, `${extension} cannot forward to itself`);
    if (forwardKind !== 'noAnswer') {
      if (delaySeconds !== undefined) throw bad(`${field}.delaySeconds`, `delaySeconds applies to noAnswer forwarding only, not "${forwardKind}"`);
      return { kind: forwardKind, target };
    }
    const delay = delaySeconds ?? DEFAULT_NO_ANSWER_DELAY_SECONDS;
    if (typeof delay !== 'number' || !Number.isInteger(delay) || delay < 1 || delay > MAX_NO_ANSWER_DELAY_SECONDS) {
      throw bad(`${field}.delaySeconds`, `delaySeconds must be a whole number of seconds from 1 to ${MAX_NO_ANSWER_DELAY_SECONDS} (got ${JSON.stringify(delaySeconds)})`);
    }
    return { kind: forwardKind, target, delaySeconds: delay };
  });
  return forwardings.sort((a, b) => FORWARD_KINDS.indexOf(a.kind) - FORWARD_KINDS.indexOf(b.kind));
}

export function validateRole(role: CloudLinkRole): CloudLinkRole {
  if (typeof role !== 'object' || role === null) throw bad('role', 'a role is { name, zoomPsi, description }');
  return {
    name: validateText(role.name, 'name', 64),
    zoomPsi: requireBoolean(role.zoomPsi, 'zoomPsi'),
    description: role.description === undefined ? '' : validateText(role.description, 'description', 500, { allowEmpty: true }),
  };
}

function validateHost(value: unknown, field: string): string {
  const host = requireString(value, field).trim();
  if (isIP(host) === 0 && !HOSTNAME.test(host)) throw bad(field, `${field} "${host}" is neither an IP address nor a host name (e.g. mbg.example.com)`);
  return host;
}

export function validateMbg(entry: MbgEntry): MbgEntry {
  if (typeof entry !== 'object' || entry === null) throw bad('mbg', 'the MBG entry is { address, publicFqdn, account, sharedSecret }');
  const account = validateText(entry.account, 'account', 64);
  // HTTP Basic splits user and password at the first colon: an account with one could never log in.
  if (/[:\s]/.test(account)) throw bad('account', 'account must not contain a colon or spaces: the gateway sends it as an HTTP Basic user name');
  const sharedSecret = requireString(entry.sharedSecret, 'sharedSecret');
  // The secret guards every subscriber's HA1 (the gateway credentials route): no trivial ones.
  if (sharedSecret.length < 8 || sharedSecret.length > 256) throw bad('sharedSecret', `sharedSecret must be 8 to 256 characters (got ${sharedSecret.length})`);
  const publicFqdn = validateHost(entry.publicFqdn, 'publicFqdn');
  return { address: validateHost(entry.address, 'address'), publicFqdn, account, sharedSecret };
}
