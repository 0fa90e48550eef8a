import { isWildcardAddress, ProblemList, type ConfigProblem } from './check.js';
import { completeGatewayConfig } from './defaults.js';
import { gatewaySchema, locateOption } from './schema.js';
import type { GatewayConfig, GatewayConfigInput } from './types.js';

/** The configuration with defaults filled in, and everything wrong with the input (empty when valid). */
export interface CheckedGatewayConfig {
  config: GatewayConfig;
  problems: ConfigProblem[];
}

/**
 * Checks a parsed configuration against the schema, fills in defaults (paths against `baseDir`),
 * then checks the options that only make sense together. Never throws on bad input.
 */
export function checkGatewayConfig(input: unknown, baseDir: string): CheckedGatewayConfig {
  const problems = new ProblemList(locateOption);
  const given = (gatewaySchema(input, '', problems) ?? {}) as GatewayConfigInput;
  const config = completeGatewayConfig(given, baseDir);
  checkAddresses(given, config, problems);
  checkMediaPorts(config, problems);
  checkKeepalive(config, problems);
  checkBlocks(config, problems);
  checkAdminToken(config, problems);
  checkListenerPorts(config, problems);
  return { config, problems: problems.items };
}

/** Defaults that follow another option must not inherit a listen-everywhere wildcard. */
function checkAddresses(given: GatewayConfigInput, config: GatewayConfig, problems: ProblemList): void {
  if (given.sip?.publicAddress === undefined && !problems.touches('sip.publicAddress') && isWildcardAddress(config.sip.host)) {
    problems.add('sip.publicAddress', `required when sip.host is ${config.sip.host}: the address sets reach the gateway at (e.g. 203.0.113.10 or gw.example.com)`);
  }
  if (given.media?.pbxSideAddress === undefined && !problems.touches('media.pbxSideAddress') && isWildcardAddress(config.pbx.localHost)) {
    problems.add('media.pbxSideAddress', `required when pbx.localHost is ${config.pbx.localHost}: the address the pbx sends RTP to (e.g. 127.0.0.1)`);
  }
}

function checkMediaPorts(config: GatewayConfig, problems: ProblemList): void {
  if (problems.touches('media.portMin') || problems.touches('media.portMax')) return;
  const { portMin, portMax } = config.media;
  if (portMin < portMax) return;
  problems.add('media.portMin', `must be below media.portMax (${portMax}), not ${portMin}: the range needs at least one RTP and RTCP pair`);
}

function checkKeepalive(config: GatewayConfig, problems: ProblemList): void {
  if (problems.touches('keepalive')) return;
  const { optionsIntervalSeconds, idleTimeoutSeconds } = config.keepalive;
  if (optionsIntervalSeconds === 0 || idleTimeoutSeconds > optionsIntervalSeconds) return;
  problems.add(
    'keepalive.idleTimeoutSeconds',
    `must be longer than keepalive.optionsIntervalSeconds (${optionsIntervalSeconds}), not ${idleTimeoutSeconds}: otherwise registered sets are disconnected between keep-alives`,
  );
}

function checkAdminToken(config: GatewayConfig, problems: ProblemList): void {
  const token = config.admin.token;
  if (token === undefined || problems.touches('admin.token') || token.length >= 16) return;
  problems.add('admin.token', `must be at least 16 characters (it is the only thing between a stranger and the admin pages), not ${token.length}: leave it out to have one made into admin.tokenFile`);
}

function checkBlocks(config: GatewayConfig, problems: ProblemList): void {
  if (problems.touches('security.blockSeconds') || problems.touches('security.maxBlockSeconds')) return;
  const { blockSeconds, maxBlockSeconds } = config.security;
  if (maxBlockSeconds >= blockSeconds) return;
  problems.add('security.maxBlockSeconds', `must be at least security.blockSeconds (${blockSeconds}), not ${maxBlockSeconds}: repeat offenders are blocked longer, never shorter`);
}

interface Listener {
  field: string;
  host: string;
  port: number;
  /** The pbx listens in another process, maybe on another machine. */
  peer?: boolean;
}

/** Two listeners on one port of one address cannot both start (and the pbx's own port is taken). */
function checkListenerPorts(config: GatewayConfig, problems: ProblemList): void {
  const listeners: Listener[] = [
    { field: 'pbx.port', host: config.pbx.address, port: config.pbx.port, peer: true },
    { field: 'sip.port', host: config.sip.host, port: config.sip.port },
    { field: 'sip.tlsPort', host: config.sip.host, port: config.sip.tlsPort },
    { field: 'https.port', host: config.https.host, port: config.https.port },
    { field: 'admin.port', host: config.admin.host, port: config.admin.port },
    { field: 'pbx.localPort', host: config.pbx.localHost, port: config.pbx.localPort },
  ].filter((listener) => listener.port !== 0 && !problems.touches(listener.field));
  listeners.forEach((listener, index) => {
    const taken = listeners.slice(0, index).find((earlier) => earlier.port === listener.port && sameInterface(earlier, listener));
    if (!taken) return;
    problems.add(listener.field, `${listener.port} is already used by ${taken.field} on ${taken.host}: pick another port`);
  });
}

function sameInterface(a: Listener, b: Listener): boolean {
  const canonical = (host: string): string => (host.toLowerCase() === 'localhost' ? '127.0.0.1' : host.toLowerCase());
  if (canonical(a.host) === canonical(b.host)) return true;
  // A wildcard listener takes the port on every local address, which a remote pbx does not share.
  const local = (listener: Listener): boolean => !listener.peer || isLoopback(listener.host);
  return (isWildcardAddress(a.host) && local(b)) || (isWildcardAddress(b.host) && local(a));
}

function isLoopback(host: string): boolean {
  return host.toLowerCase() === 'localhost' || host === '::1' || host.startsWith('127.');
}
