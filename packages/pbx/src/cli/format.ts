import type { AllowListEntry, CloudLinkRole, Forwarding, Subscriber } from '../store/types.js';
import type { MbgView } from '../api/routes.js';

export interface BlockView {
  address: string;
  reason: string;
  until: number;
}

/** Left-aligned columns, two spaces apart, header first. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, column) => Math.max(h.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, column) => cell.padEnd(widths[column])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function describeForwarding(f: Forwarding): string {
  const label = f.kind === 'noAnswer' ? 'no answer' : f.kind;
  return f.kind === 'noAnswer' ? `${label} → ${f.target} after ${f.delaySeconds ?? 20} s` : `${label} → ${f.target}`;
}

function dndState(s: Subscriber): string {
  if (!s.dndAllowed) return 'not allowed';
  return s.dndActive ? 'on' : 'off';
}

export function subscriberTable(subscribers: Subscriber[]): string {
  if (subscribers.length === 0) return 'no subscribers\n';
  return table(['EXTENSION', 'NAME', 'E-MAIL', 'ROLE', 'DND', 'FORWARDING'],
    subscribers.map((s) => [s.extension, s.name, s.email, s.role ?? '-', dndState(s), s.forwardings.map(describeForwarding).join(', ') || '-']));
}

export function subscriberDetails(s: Subscriber): string {
  return [
    `extension:   ${s.extension}`,
    `name:        ${s.name}`,
    `e-mail:      ${s.email}`,
    `role:        ${s.role ?? '-'}`,
    `DND allowed: ${s.dndAllowed ? 'yes' : 'no'}`,
    `DND:         ${s.dndActive ? 'on' : 'off'}`,
    `forwarding:  ${s.forwardings.map(describeForwarding).join(', ') || '-'}`,
    `created:     ${s.createdAt}`,
    `updated:     ${s.updatedAt}`,
  ].join('\n') + '\n';
}

export function roleTable(roles: CloudLinkRole[]): string {
  if (roles.length === 0) return 'no roles\n';
  return table(['NAME', 'ZOOM PSI', 'DESCRIPTION'], roles.map((r) => [r.name, r.zoomPsi ? 'yes' : 'no', r.description]));
}

export function mbgDetails(mbg: MbgView): string {
  return [
    `address:       ${mbg.address}`,
    `public FQDN:   ${mbg.publicFqdn}`,
    `account:       ${mbg.account}`,
    'shared secret: (set, not shown)',
  ].join('\n') + '\n';
}

export function allowListTable(entries: AllowListEntry[]): string {
  return cidrTable(entries, 'the Allow-List is empty');
}

export function cidrTable(entries: AllowListEntry[], whenEmpty: string): string {
  if (entries.length === 0) return `${whenEmpty}\n`;
  return table(['ID', 'CIDR', 'COMMENT'], entries.map((e) => [String(e.id), e.cidr, e.comment]));
}

export function blockTable(blocks: BlockView[]): string {
  if (blocks.length === 0) return 'no blocked addresses\n';
  return table(['ADDRESS', 'REASON', 'UNTIL'], blocks.map((b) => [b.address, b.reason, new Date(b.until).toISOString()]));
}
