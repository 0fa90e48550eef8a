import { COUNTER_HELP, type GatewayCounters, type GatewayStatus } from '../status/types.js';

/** The Content-Type of the Prometheus text exposition format this module writes. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const PREFIX = 'psi_gateway_';

/**
 * Transports a set may register over. Always exported, at 0 when unused, so a dashboard's
 * series do not appear and vanish as sets come and go.
 */
const KNOWN_TRANSPORTS = ['udp', 'tcp', 'tls', 'ws', 'wss'];

/**
 * The metric name of one counter: `psi_gateway_` + snake case, and `_total` for counters
 * (not repeated when the name already ends in it: `blocksTotal` is `psi_gateway_blocks_total`).
 */
export function metricName(counter: keyof GatewayCounters): string {
  const snake = counter.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  const base = PREFIX + snake;
  if (COUNTER_HELP[counter].type !== 'counter' || base.endsWith('_total')) return base;
  return `${base}_total`;
}

/**
 * The whole of /metrics in the Prometheus text format 0.0.4: every counter of
 * GatewayCounters with its HELP and TYPE, registrations by transport, and uptime.
 * `nowMs` is the time uptime is measured to.
 */
export function renderMetrics(status: GatewayStatus, nowMs: number): string {
  const lines: string[] = [];
  for (const counter of Object.keys(COUNTER_HELP) as Array<keyof GatewayCounters>) {
    const { help, type } = COUNTER_HELP[counter];
    family(lines, metricName(counter), help, type, [['', status.counters[counter]]]);
  }

  const byTransport = new Map<string, number>(KNOWN_TRANSPORTS.map((t) => [t, 0]));
  for (const registration of status.registrations) {
    const transport = registration.transport.toLowerCase();
    byTransport.set(transport, (byTransport.get(transport) ?? 0) + 1);
  }
  family(lines, `${PREFIX}registrations_by_transport`, 'Sets registered through the gateway, by transport', 'gauge',
    [...byTransport].map(([transport, count]) => [`{transport="${escapeLabelValue(transport)}"}`, count]));

  const uptimeSeconds = Math.max(0, (nowMs - Date.parse(status.startedAt)) / 1000);
  family(lines, `${PREFIX}uptime_seconds`, 'Seconds since the gateway started', 'gauge', [['', uptimeSeconds]]);
  // The format wants a line feed after the last line too.
  return lines.join('\n') + '\n';
}

/** One metric family: HELP, TYPE, then one sample per `[labels, value]`. */
function family(lines: string[], name: string, help: string, type: 'counter' | 'gauge', samples: Array<[string, number]>): void {
  lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${formatValue(value)}`);
}

function formatValue(value: number): string {
  // A counter missing from a snapshot is shown as NaN rather than breaking the scrape.
  if (typeof value !== 'number' || Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
