import type { CloudLinkRole, Forwarding, MbgEntry, NewSubscriber, SubscriberPatch } from '../store/types.js';
import { ApiError } from './errors.js';

/**
 * JSON bodies checked for shape (object, known fields, JSON types) and turned into the
 * store's inputs; the store then checks meaning (formats, uniqueness, policy).
 */

type JsonObject = Record<string, unknown>;

function badField(field: string, message: string): ApiError {
  return new ApiError(400, 'bad-field', field, message);
}

function objectWithFields(body: unknown, allowed: readonly string[], what: string): JsonObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'bad-json', 'body', `the request body must be a JSON object: ${what}`);
  }
  for (const field of Object.keys(body)) {
    // A typo ("forwarding", "dnd") silently ignored would look like a change that did not stick.
    if (!allowed.includes(field)) throw badField(field, `unknown field "${field}": expected ${allowed.join(', ')}`);
  }
  return body as JsonObject;
}

function optionalString(body: JsonObject, field: string): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badField(field, `${field} must be a string`);
  return value;
}

function requiredString(body: JsonObject, field: string): string {
  const value = optionalString(body, field);
  if (value === undefined) throw badField(field, `${field} is required`);
  return value;
}

function optionalBoolean(body: JsonObject, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badField(field, `${field} must be true or false`);
  return value;
}

function optionalRole(body: JsonObject): string | null | undefined {
  const value = body.role;
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string') throw badField('role', 'role must be a role name, or null for none');
  return value;
}

function optionalForwardings(body: JsonObject): Forwarding[] | undefined {
  const value = body.forwardings;
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw badField('forwardings', 'forwardings must be a list of { kind, target, delaySeconds? } (empty for none)');
  // Each item's shape and meaning is the store's to check (validateForwardings takes unknown).
  return value as Forwarding[];
}

export function newSubscriberFrom(body: unknown): NewSubscriber {
  const fields = objectWithFields(body, ['extension', 'name', 'email', 'password', 'role', 'dndAllowed'], '{ extension, name, email, password, role?, dndAllowed? }');
  return {
    extension: requiredString(fields, 'extension'),
    name: requiredString(fields, 'name'),
    email: requiredString(fields, 'email'),
    password: requiredString(fields, 'password'),
    role: optionalRole(fields),
    dndAllowed: optionalBoolean(fields, 'dndAllowed'),
  };
}

export function subscriberPatchFrom(body: unknown): SubscriberPatch {
  const fields = objectWithFields(body, ['name', 'email', 'password', 'role', 'dndAllowed', 'dndActive', 'forwardings'], 'the fields to change');
  const patch: SubscriberPatch = {
    name: optionalString(fields, 'name'),
    email: optionalString(fields, 'email'),
    password: optionalString(fields, 'password'),
    role: optionalRole(fields),
    dndAllowed: optionalBoolean(fields, 'dndAllowed'),
    dndActive: optionalBoolean(fields, 'dndActive'),
    forwardings: optionalForwardings(fields),
  };
  return patch;
}

/**
 * PUT /api/roles/:name — fields left out keep their stored value (a new role: Zoom PSI
 * unticked, as on the real system), so changing a description cannot untick Zoom PSI.
 */
export function roleFrom(name: string, body: unknown, existing: CloudLinkRole | undefined): CloudLinkRole {
  const fields = objectWithFields(body, ['name', 'zoomPsi', 'description'], '{ zoomPsi?, description? }');
  const bodyName = optionalString(fields, 'name');
  if (bodyName !== undefined && bodyName !== name) throw badField('name', `the body names role "${bodyName}" but the URL names "${name}"`);
  return {
    name,
    zoomPsi: optionalBoolean(fields, 'zoomPsi') ?? existing?.zoomPsi ?? false,
    description: optionalString(fields, 'description') ?? existing?.description ?? '',
  };
}

/** PUT /api/mbg — fields left out keep their stored value; all four are needed the first time. */
export function mbgFrom(body: unknown, existing: MbgEntry | null): MbgEntry {
  const fields = objectWithFields(body, ['address', 'publicFqdn', 'account', 'sharedSecret'], '{ address, publicFqdn, account, sharedSecret }');
  const pick = (field: keyof MbgEntry): string => {
    const value = existing ? optionalString(fields, field) ?? existing[field] : requiredString(fields, field);
    return value;
  };
  return { address: pick('address'), publicFqdn: pick('publicFqdn'), account: pick('account'), sharedSecret: pick('sharedSecret') };
}

export function allowListEntryFrom(body: unknown): { cidr: string; comment: string } {
  const fields = objectWithFields(body, ['cidr', 'comment'], '{ cidr, comment? }');
  return { cidr: requiredString(fields, 'cidr'), comment: optionalString(fields, 'comment') ?? '' };
}
