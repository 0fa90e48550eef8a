import { COUNTER_HELP, type GatewayCounters, type GatewayStatus } from '../status/types.js';

/** Seconds between automatic reloads of the status page. */
export const STATUS_PAGE_REFRESH_SECONDS = 10;

/**
 * A piece of HTML that is already safe. A class, not a shape: only this module's own markup
 * ever becomes one, whatever object a status value might turn out to be.
 */
class Html {
  constructor(readonly html: string) {}
}

/** What a table cell may hold: text (always escaped) or markup built here. */
type Cell = string | number | Html;

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.8rem; }
table { border-collapse: collapse; margin-top: .4rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.empty { color: #777; font-style: italic; } .error { color: #b00020; }
code { font-size: .9em; word-break: break-all; }
`;

/**
 * The status page: uptime, listeners, the pbx and its credential cache, the certificate, the
 * registered sets, the blocks and the counters. Every value is escaped: User-Agents and block
 * values come straight from whoever sends SIP to the gateway. `nowMs` is the time uptime is
 * measured to.
 */
export function renderStatusPage(status: GatewayStatus, nowMs: number): string {
  const { pbx, certificate } = status;
  const sections = [
    `<h1>psi-lab gateway</h1>`,
    keyValues([
      ['Started', status.startedAt],
      ['Uptime', formatUptime(nowMs - Date.parse(status.startedAt))],
    ]),
    `<h2>Listeners</h2>`,
    table(['Protocol', 'Address', 'Port', 'Path'],
      status.listeners.map((l) => [l.protocol, l.address, l.port, l.path ?? '']), 'No listener is open.'),
    `<h2>PBX</h2>`,
    keyValues([
      ['Target', pbx.target],
      ['Cached set credentials', pbx.credentials],
      ['Credentials refreshed', pbx.credentialsRefreshedAt ?? 'never'],
      ...(pbx.credentialsError === undefined ? [] : [['Last refresh failed', markup('span', 'error', pbx.credentialsError)] as [string, Cell]]),
    ]),
    `<h2>Certificate</h2>`,
    keyValues([
      ['Subject', certificate.subject],
      ['Valid to', certificate.validTo],
      ['SHA-256 fingerprint', markup('code', '', certificate.fingerprint256)],
      ['Loaded', certificate.loadedAt],
    ]),
    `<h2>Registered sets (${escapeHtml(status.registrations.length)})</h2>`,
    table(['User', 'Device', 'Transport', 'Source', 'Since', 'Expires'],
      status.registrations.map((r) => [r.user, r.device, r.transport, r.source, r.since, r.expires]), 'No set is registered.'),
    `<h2>Calls (${escapeHtml(status.calls.length)})</h2>`,
    table(['User', 'Direction', 'Peer', 'State', 'Since', 'RTP from set', 'RTP to set', 'Refused', 'Media'],
      status.calls.map((c) => [c.user, c.direction, c.peer, c.state, c.since, c.media.fromSet, c.media.toSet, c.media.refused,
        c.warning ? markup('span', 'error', c.warning) : 'ok']), 'No call in progress.'),
    `<h2>Blocks (${escapeHtml(status.blocks.length)})</h2>`,
    table(['Kind', 'Value', 'Reason', 'Count', 'Since', 'Until'],
      status.blocks.map((b) => [b.kind, b.value, b.reason, b.count, b.since, b.until]), 'Nothing is blocked.'),
    `<h2>Counters</h2>`,
    table(['Counter', 'Value', 'Meaning'],
      (Object.keys(COUNTER_HELP) as Array<keyof GatewayCounters>).map((name) => [name, status.counters[name], COUNTER_HELP[name].help]),
      'No counter.'),
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="refresh" content="${STATUS_PAGE_REFRESH_SECONDS}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>psi-lab gateway status</title>',
    `<style>${STYLE}</style>`,
    '</head><body>',
    ...sections,
    '</body></html>',
    '',
  ].join('\n');
}

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** `1d 2h 3m 4s`, leaving out leading zero units. */
export function formatUptime(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) return 'unknown';
  let seconds = Math.max(0, Math.floor(milliseconds / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    const count = Math.floor(seconds / size);
    seconds -= count * size;
    if (count > 0 || parts.length > 0) parts.push(`${count}${unit}`);
  }
  parts.push(`${seconds}s`);
  return parts.join(' ');
}

function markup(tag: string, className: string, text: string): Html {
  const classAttribute = className ? ` class="${escapeHtml(className)}"` : '';
  return new Html(`<${tag}${classAttribute}>${escapeHtml(text)}</${tag}>`);
}

function cellHtml(cell: Cell): string {
  return cell instanceof Html ? cell.html : escapeHtml(cell);
}

function keyValues(rows: Array<[string, Cell]>): string {
  const body = rows.map(([key, value]) => `<tr><th>${escapeHtml(key)}</th><td>${cellHtml(value)}</td></tr>`).join('\n');
  return `<table>\n${body}\n</table>`;
}

function table(headers: string[], rows: Cell[][], whenEmpty: string): string {
  const head = `<tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows.length === 0
    ? `<tr><td class="empty" colspan="${headers.length}">${escapeHtml(whenEmpty)}</td></tr>`
    : rows.map((row) => `<tr>${row.map((cell) => {
      const numeric = typeof cell === 'number' ? ' class="num"' : '';
      return `<td${numeric}>${cellHtml(cell)}</td>`;
    }).join('')}</tr>`).join('\n');
  return `<table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}
