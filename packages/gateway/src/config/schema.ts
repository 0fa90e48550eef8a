import { bool, cidr, hostOrAddress, httpsUrl, listOf, oneOf, port, retired, section, text, urlPath, wholeNumber, type Check } from './check.js';

const PINO_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ONE_DAY = 86_400;

/** What each option of gateway.yaml may hold; the defaults are in defaults.ts, the meanings in types.ts. */
export const gatewaySchema: Check = section({
  sip: section({
    host: hostOrAddress(),
    publicAddress: hostOrAddress({ advertised: true }),
    port: port({ zeroDisables: true }),
    tlsPort: port({ zeroDisables: true }),
  }),
  https: section({
    host: hostOrAddress(),
    port: port({ zeroDisables: true }),
    wsPath: urlPath(),
    adminToken: retired('moved to admin.token: the status page, /api/* and /metrics have a listener of their own now (admin.host, admin.port; default https://127.0.0.1:9080), and it always wants a credential'),
  }),
  admin: section({
    host: hostOrAddress(),
    port: port({ zeroDisables: true }),
    token: text(),
    tokenFile: text({ spaces: true }),
  }),
  certificate: section({
    dir: text({ spaces: true }),
    certFile: text({ spaces: true }),
    keyFile: text({ spaces: true }),
    caFile: text({ spaces: true }),
    names: listOf(hostOrAddress({ advertised: true, wildcardName: true }), { example: '[localhost, 127.0.0.1, gw.example.com]', nonEmpty: true }),
    watch: bool(),
    watchIntervalMs: wholeNumber({ min: 50, max: 60_000 }),
  }),
  pbx: section(
    {
      address: hostOrAddress({ advertised: true }),
      port: port({ zeroDisables: false }),
      transport: oneOf(['udp', 'tcp']),
      localHost: hostOrAddress(),
      localPort: port({ zeroDisables: false }),
      api: httpsUrl(),
      apiCaFile: text({ spaces: true }),
      account: text(),
      secret: text({ spaces: true }),
      credentialsRefreshSeconds: wholeNumber({ min: 1, max: ONE_DAY }),
    },
    {
      account: `the MBG entry's user account on the pbx (add "account: ..." under "pbx:")`,
      secret: `the MBG entry's shared secret on the pbx (add "secret: ..." under "pbx:")`,
    },
  ),
  auth: section({
    algorithms: listOf(oneOf(['MD5', 'SHA-256']), { example: '[MD5, SHA-256]', nonEmpty: true, unique: { key: String } }),
    nonceTtlSeconds: wholeNumber({ min: 1, max: ONE_DAY }),
  }),
  devices: listOf(
    section({ user: text(), icpUser: text(), icpPassword: text({ spaces: true }) }, { user: 'the set-side user name (the extension), e.g. user: "1001"' }),
    { example: '[{ user: "1001", icpUser: "1001", icpPassword: "..." }]', unique: { key: (device) => (device as { user?: string }).user, suffix: '.user' } },
  ),
  keepalive: section({
    optionsIntervalSeconds: wholeNumber({ min: 0, max: 180, note: '0 disables them' }),
    idleTimeoutSeconds: wholeNumber({ min: 1, max: ONE_DAY }),
  }),
  media: section({
    setSideAddress: hostOrAddress({ advertised: true }),
    pbxSideAddress: hostOrAddress({ advertised: true }),
    portMin: wholeNumber({ min: 1024, max: 65534, even: true, note: 'RTCP takes the odd port above each RTP port' }),
    portMax: wholeNumber({ min: 1025, max: 65535 }),
    trustedNetworks: listOf(cidr(), { example: '[10.20.0.0/16]' }),
  }),
  security: section({
    accessList: listOf(
      section(
        { cidr: cidr(), list: oneOf(['white', 'black'], { white: 'always allowed', black: 'always refused' }) },
        { cidr: 'the address block, e.g. cidr: 10.0.0.0/8', list: 'white (always allowed) or black (always refused)' },
      ),
      { example: '[{ cidr: 10.0.0.0/8, list: white }]' },
    ),
    maxAuthFailures: wholeNumber({ min: 1, max: 1_000_000 }),
    maxUserAuthFailures: wholeNumber({ min: 1, max: 1_000_000 }),
    authFailureWindowSeconds: wholeNumber({ min: 1, max: 30 * ONE_DAY }),
    knownDeviceDays: wholeNumber({ min: 0, max: 3650, note: '0 remembers no device' }),
    maxRequestsPerWindow: wholeNumber({ min: 1, max: 100_000_000 }),
    windowSeconds: wholeNumber({ min: 1, max: ONE_DAY }),
    maxRequestsPerSecond: wholeNumber({ min: 1, max: 100_000_000 }),
    blockSeconds: wholeNumber({ min: 1, max: 365 * ONE_DAY }),
    maxBlockSeconds: wholeNumber({ min: 1, max: 365 * ONE_DAY }),
    maxConnectionsPerSource: wholeNumber({ min: 1, max: 1_000_000 }),
    scannerUserAgents: listOf(text({ spaces: true }), { example: '[friendly-scanner, sipvicious]' }),
  }),
  log: section({
    level: oneOf(PINO_LEVELS),
    sipTrace: bool(),
  }),
});

/** Every option as a dotted path, list entries as `[]`: `sip.host`, `devices[].user`, ... (retired ones left out) */
export function optionPaths(check: Check = gatewaySchema, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, option] of Object.entries(check.shape ?? {})) {
    if (option.retired) continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (option.shape) paths.push(...optionPaths(option, path));
    else if (option.item?.shape) paths.push(...optionPaths(option.item, `${path}[]`));
    else paths.push(path);
  }
  return paths;
}

/** Every section and option by lower-cased name, for "it belongs under ..." hints. */
function indexByName(check: Check, prefix: string, index: Map<string, string[]>): Map<string, string[]> {
  for (const [key, option] of Object.entries(check.shape ?? {})) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const name = key.toLowerCase();
    index.set(name, [...(index.get(name) ?? []), path]);
    if (option.shape) indexByName(option, path, index);
    else if (option.item?.shape) indexByName(option.item, `${path}[]`, index);
  }
  return index;
}

const optionsByName = indexByName(gatewaySchema, '', new Map());

/** Where an option of this name (any case) lives in the schema. */
export function locateOption(name: string): string[] {
  return optionsByName.get(name.toLowerCase()) ?? [];
}
