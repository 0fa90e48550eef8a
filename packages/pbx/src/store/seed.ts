import type { CloudLinkRole, PbxStore } from './types.js';

export const DEFAULT_ROLES: readonly CloudLinkRole[] = [
  { name: 'Zoom PSI User', zoomPsi: true, description: 'Provisioned for Zoom Phone through PSI (CloudLink and Zoom welcome e-mails)' },
  { name: 'Standard', zoomPsi: false, description: 'CloudLink user without Zoom' },
];

/**
 * Adds the default CloudLink roles that are missing; never overwrites one an administrator
 * has changed. Returns the roles it added.
 */
export function seedDefaults(store: PbxStore): CloudLinkRole[] {
  const existing = new Set(store.listRoles().map((r) => r.name));
  return DEFAULT_ROLES.filter((role) => !existing.has(role.name)).map((role) => store.putRole({ ...role }));
}
