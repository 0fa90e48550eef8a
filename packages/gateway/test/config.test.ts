import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DEFAULT_SCANNER_USER_AGENTS,
  GATEWAY_EXAMPLE_FILE,
  GatewayConfigError,
  defaultGatewayConfig,
  loadGatewayConfig,
  optionPaths,
  resolveGatewayConfig,
  type GatewayConfig,
} from '../src/config/index.js';

const REQUIRED = { pbx: { account: 'mbg', secret: 's3cret' } };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeYaml(text: string, name = 'gateway.yaml'): string {
  const file = join(dir, name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** The error a bad configuration throws (fails the test when none is thrown). */
function errorOf(action: () => unknown): GatewayConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof GatewayConfigError) return error;
    throw error;
  }
  throw new Error('expected a GatewayConfigError, but the configuration was accepted');
}

function resolveError(input: unknown): GatewayConfigError {
  return errorOf(() => resolveGatewayConfig(input, dir, 'gateway.yaml'));
}

/** Deep-merges the required options into a partial input. */
function withRequired(input: Record<string, unknown>): Record<string, unknown> {
  const pbx = { ...REQUIRED.pbx, ...((input.pbx as object | undefined) ?? {}) };
  return { ...input, pbx };
}

describe('defaults', () => {
  it('are the ones types.ts documents', () => {
    const expected: GatewayConfig = {
      sip: { host: '127.0.0.1', publicAddress: '127.0.0.1', port: 5060, tlsPort: 5061 },
      https: { host: '127.0.0.1', port: 8443, wsPath: '/sip' },
      admin: { host: '127.0.0.1', port: 9080, tokenFile: '/srv/gw/admin-token' },
      certificate: {
        dir: '/srv/gw/certs',
        certFile: '/srv/gw/certs/server.pem',
        keyFile: '/srv/gw/certs/server.key',
        caFile: '/srv/gw/certs/ca.pem',
        names: ['localhost', '127.0.0.1'],
        watch: true,
        watchIntervalMs: 2000,
      },
      pbx: {
        address: '127.0.0.1',
        port: 5070,
        transport: 'tcp',
        localHost: '127.0.0.1',
        localPort: 5062,
        api: 'https://127.0.0.1:8070',
        account: 'mbg',
        secret: 's3cret',
        credentialsRefreshSeconds: 2,
      },
      auth: { algorithms: ['MD5'], nonceTtlSeconds: 300 },
      devices: [],
      keepalive: { optionsIntervalSeconds: 20, idleTimeoutSeconds: 300 },
      media: { setSideAddress: '127.0.0.1', pbxSideAddress: '127.0.0.1', portMin: 20000, portMax: 29999, trustedNetworks: [] },
      security: {
        accessList: [],
        maxAuthFailures: 10,
        maxUserAuthFailures: 10,
        authFailureWindowSeconds: 600,
        knownDeviceDays: 30,
        maxRequestsPerWindow: 200,
        windowSeconds: 10,
        maxRequestsPerSecond: 2000,
        blockSeconds: 3600,
        maxBlockSeconds: 86_400,
        maxConnectionsPerSource: 64,
        scannerUserAgents: [...DEFAULT_SCANNER_USER_AGENTS],
      },
      log: { level: 'info', sipTrace: false },
    };
    expect(defaultGatewayConfig(REQUIRED.pbx, '/srv/gw')).toEqual(expected);
    expect(DEFAULT_SCANNER_USER_AGENTS).toEqual(expect.arrayContaining(['friendly-scanner', 'sipvicious', 'sipcli', 'VaxSIPUserAgent', 'iWar', 'Ozeki']));
    expect(DEFAULT_SCANNER_USER_AGENTS.map((agent) => agent.toLowerCase())).not.toContain('sipp');
  });

  it('a file with only the pbx account and secret gives them, with paths next to the file', () => {
    const file = writeYaml('pbx:\n  account: mbg\n  secret: s3cret\n');
    expect(loadGatewayConfig(file)).toEqual(defaultGatewayConfig(REQUIRED.pbx, dir));
  });

  it('empty sections (every line under them commented out) mean their defaults', () => {
    const file = writeYaml('sip:\n  # port: 5080\nhttps:\ndevices:\npbx:\n  account: mbg\n  secret: s3cret\n  port:\n');
    expect(loadGatewayConfig(file)).toEqual(defaultGatewayConfig(REQUIRED.pbx, dir));
  });

  it('hands out copies: changing one result does not change the next', () => {
    const first = defaultGatewayConfig(REQUIRED.pbx, dir);
    first.security.scannerUserAgents.push('mine');
    first.auth.algorithms.pop();
    const second = defaultGatewayConfig(REQUIRED.pbx, dir);
    expect(second.security.scannerUserAgents).toEqual([...DEFAULT_SCANNER_USER_AGENTS]);
    expect(second.auth.algorithms).toEqual(['MD5']);
  });
});

describe('overrides', () => {
  it('given options win, and the defaults that follow them follow', () => {
    const config = resolveGatewayConfig(
      withRequired({ sip: { host: '0.0.0.0', publicAddress: 'gw.example.com', tlsPort: 0 }, pbx: { localHost: '127.0.0.2', transport: 'udp' } }),
      dir,
    );
    expect(config.sip).toEqual({ host: '0.0.0.0', publicAddress: 'gw.example.com', port: 5060, tlsPort: 0 });
    expect(config.https.host).toBe('0.0.0.0');
    expect(config.certificate.names).toEqual(['localhost', '127.0.0.1', 'gw.example.com']);
    expect(config.media.setSideAddress).toBe('gw.example.com');
    expect(config.media.pbxSideAddress).toBe('127.0.0.2');
    expect(config.pbx.transport).toBe('udp');
  });

  it('keeps every option given explicitly', () => {
    const input = {
      https: { wsPath: '/ws', port: 0 },
      admin: { token: 'a-token-of-24-characters', port: 9443 },
      certificate: { names: ['*.example.com'], watch: false },
      auth: { algorithms: ['SHA-256'], nonceTtlSeconds: 30 },
      devices: [{ user: '1001', icpUser: '41001', icpPassword: 'icp secret' }, { user: '1002' }],
      keepalive: { optionsIntervalSeconds: 0, idleTimeoutSeconds: 5 },
      media: { setSideAddress: '127.0.0.3', pbxSideAddress: '127.0.0.4', portMin: 40000, portMax: 40001, trustedNetworks: ['10.20.0.0/16'] },
      security: { accessList: [{ cidr: '127.0.0.0/8', list: 'white' }, { cidr: '2001:db8::/32', list: 'black' }], scannerUserAgents: [], blockSeconds: 1 },
      log: { level: 'silent', sipTrace: true },
    };
    const config = resolveGatewayConfig(withRequired(input), dir);
    expect(config.https).toEqual({ host: '127.0.0.1', port: 0, wsPath: '/ws' });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9443, token: 'a-token-of-24-characters', tokenFile: join(dir, 'admin-token') });
    expect(config.certificate.names).toEqual(['*.example.com']);
    expect(config.certificate.watch).toBe(false);
    expect(config.auth).toEqual(input.auth);
    expect(config.devices).toEqual(input.devices);
    expect(config.keepalive).toEqual(input.keepalive);
    expect(config.media).toEqual(input.media);
    expect(config.security.accessList).toEqual(input.security.accessList);
    expect(config.security.scannerUserAgents).toEqual([]);
    expect(config.security.blockSeconds).toBe(1);
    expect(config.log).toEqual({ level: 'silent', sipTrace: true });
  });
});

describe('relative paths', () => {
  it('are taken from the directory of the YAML file, however the file itself was named', () => {
    const file = writeYaml(
      'pbx: { account: mbg, secret: s3cret }\ncertificate:\n  dir: my-certs\n  keyFile: ../keys/server.key\n  caFile: /etc/psi/ca.pem\n',
      'conf/gateway.yaml',
    );
    const conf = join(dir, 'conf');
    for (const name of [file, relative(process.cwd(), file)]) {
      const { certificate } = loadGatewayConfig(name);
      expect(certificate.dir).toBe(join(conf, 'my-certs'));
      expect(certificate.certFile).toBe(join(conf, 'my-certs', 'server.pem'));
      expect(certificate.keyFile).toBe(join(dir, 'keys', 'server.key'));
      expect(certificate.caFile).toBe('/etc/psi/ca.pem');
    }
  });

  it('resolveGatewayConfig takes them from baseDir', () => {
    const config = resolveGatewayConfig(withRequired({ certificate: { certFile: 'pem/cert.pem' } }), '/opt/lab');
    expect(config.certificate.certFile).toBe('/opt/lab/pem/cert.pem');
    expect(config.certificate.dir).toBe('/opt/lab/certs');
  });
});

describe('error messages name the option and the fix', () => {
  it('quotes the file name, the field and the bad value', () => {
    const file = writeYaml('pbx:\n  account: mbg\n  secret: s3cret\n  port: abc\n');
    const error = errorOf(() => loadGatewayConfig(file));
    expect(error.message).toBe(`${file}: pbx.port: must be a whole number from 1 to 65535, not "abc"`);
    expect(error.field).toBe('pbx.port');
  });

  it.each([
    [{ sip: { tlsport: 5061 } }, 'sip.tlsport', 'unknown field "tlsport" — did you mean "tlsPort"?'],
    [{ sip: { prot: 5060 } }, 'sip.prot', 'unknown field "prot" — did you mean "port"?'],
    [{ tlsPort: 5061 }, 'tlsPort', 'unknown field "tlsPort" here — did you mean sip.tlsPort?'],
    [{ sip: { bogus: 1 } }, 'sip.bogus', 'unknown field "bogus"; the options of sip are host, publicAddress, port and tlsPort'],
    [{ sip: { port: 70000 } }, 'sip.port', 'must be a whole number from 0 to 65535 (0 disables it), not 70000'],
    [{ pbx: { port: '5070' } }, 'pbx.port', 'not "5070" (write numbers without quotes)'],
    [{ pbx: { port: 5070.5 } }, 'pbx.port', 'must be a whole number from 1 to 65535, not 5070.5'],
    [{ pbx: { transport: 'tls' } }, 'pbx.transport', 'must be udp or tcp, not "tls"'],
    [{ pbx: { transport: 'TCP' } }, 'pbx.transport', 'did you mean "tcp"?'],
    [{ pbx: { api: '127.0.0.1:8070' } }, 'pbx.api', 'must be an https:// URL, e.g. https://127.0.0.1:8070, not "127.0.0.1:8070"'],
    [{ pbx: { api: 'http://127.0.0.1:8070' } }, 'pbx.api', 'serve the pbx API over TLS and write https://127.0.0.1:8070'],
    [{ https: { adminToken: 'old-token' } }, 'https.adminToken', 'moved to admin.token: the status page, /api/* and /metrics have a listener of their own now'],
    [{ admin: { token: 'short' } }, 'admin.token', 'must be at least 16 characters'],
    [{ admin: { port: 8443 } }, 'admin.port', '8443 is already used by https.port on 127.0.0.1'],
    [{ security: { maxBlockSeconds: 60 } }, 'security.maxBlockSeconds', 'must be at least security.blockSeconds (3600), not 60'],
    [{ pbx: { secret: 1234 } }, 'pbx.secret', 'must be text: put it in quotes, e.g. "1234"'],
    [{ pbx: { address: '0.0.0.0' } }, 'pbx.address', 'must be an address others can reach, not "0.0.0.0"'],
    [{ sip: { host: 'not a host' } }, 'sip.host', 'must not contain spaces, not "not a host"'],
    [{ sip: { host: '300.1.2.3' } }, 'sip.host', 'must be an IP address or a host name'],
    [{ sip: 5060 }, 'sip', 'must be a section of options'],
    [{ https: { wsPath: 'sip' } }, 'https.wsPath', 'must be a URL path starting with /, e.g. /sip, not "sip"'],
    [{ certificate: { watch: 'yes' } }, 'certificate.watch', 'must be true or false, not "yes"'],
    [{ certificate: { watchIntervalMs: 10 } }, 'certificate.watchIntervalMs', 'must be a whole number from 50 to 60000, not 10'],
    [{ certificate: { names: [] } }, 'certificate.names', 'must list at least one entry'],
    [{ keepalive: { optionsIntervalSeconds: 300 } }, 'keepalive.optionsIntervalSeconds', 'must be a whole number from 0 to 180 (0 disables them), not 300'],
    [{ keepalive: { idleTimeoutSeconds: 20 } }, 'keepalive.idleTimeoutSeconds', 'must be longer than keepalive.optionsIntervalSeconds (20), not 20'],
    [{ media: { portMin: 20001 } }, 'media.portMin', 'must be an even whole number from 1024 to 65534'],
    [{ media: { portMin: 30000 } }, 'media.portMin', 'must be below media.portMax (29999), not 30000'],
    [{ auth: { algorithms: [] } }, 'auth.algorithms', 'must list at least one entry, e.g. [MD5, SHA-256]'],
    [{ auth: { algorithms: 'MD5' } }, 'auth.algorithms', 'must be a list, e.g. [MD5, SHA-256], not "MD5"'],
    [{ auth: { algorithms: ['MD5', 'SHA256'] } }, 'auth.algorithms[1]', 'must be MD5 or SHA-256, not "SHA256" — did you mean "SHA-256"?'],
    [{ auth: { algorithms: ['MD5', 'MD5'] } }, 'auth.algorithms[1]', '"MD5" is listed twice (also at auth.algorithms[0]): remove one'],
    [{ devices: [{ user: '1001' }, { icpUser: '41002' }] }, 'devices[1].user', 'required: the set-side user name (the extension)'],
    [{ devices: [{ user: 1001 }] }, 'devices[0].user', 'put it in quotes, e.g. "1001"'],
    [{ devices: [{ user: '1001', password: 'x' }] }, 'devices[0].password', 'did you mean "icpPassword"?'],
    [{ security: { accessList: [{ cidr: '10.0.0.0/8', list: 'white' }, { cidr: '10.0.0.0/8', list: 'white' }, { cidr: '10.1.2.3/8', list: 'black' }] } }, 'security.accessList[2].cidr', '"10.1.2.3/8" has host bits set after the /8 prefix: did you mean 10.0.0.0/8?'],
    [{ security: { accessList: [{ cidr: '10.0.0.1', list: 'white' }] } }, 'security.accessList[0].cidr', 'has no prefix length'],
    [{ security: { accessList: [{ cidr: '10.0.0.0/8', list: 'allow' }] } }, 'security.accessList[0].list', 'must be white (always allowed) or black (always refused), not "allow"'],
    [{ log: { level: 'verbose' } }, 'log.level', 'must be fatal, error, warn, info, debug, trace or silent, not "verbose"'],
    [{ sip: { host: '0.0.0.0' } }, 'sip.publicAddress', 'required when sip.host is 0.0.0.0'],
    [{ pbx: { localHost: '0.0.0.0' } }, 'media.pbxSideAddress', 'required when pbx.localHost is 0.0.0.0'],
    [{ https: { port: 5061 } }, 'https.port', '5061 is already used by sip.tlsPort on 127.0.0.1: pick another port'],
    [{ pbx: { localPort: 5070 } }, 'pbx.localPort', '5070 is already used by pbx.port on 127.0.0.1'],
  ])('%j → %s', (input, field, message) => {
    const error = resolveError(withRequired(input as Record<string, unknown>));
    expect(error.problems).toHaveLength(1);
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`gateway.yaml: ${field}: `)).toBe(true);
    expect(error.message).toContain(message);
  });

  it('the pbx account and secret are required, and what they are is said', () => {
    const error = resolveError({ pbx: { address: '127.0.0.1' } });
    expect(error.field).toBe('pbx.account');
    expect(error.problems.map((problem) => problem.field)).toEqual(['pbx.account', 'pbx.secret']);
    expect(error.message).toContain("pbx.account: required: the MBG entry's user account on the pbx");
    expect(error.message).toContain("pbx.secret: required: the MBG entry's shared secret on the pbx");
  });

  it('an empty file is missing only the required options', () => {
    const error = errorOf(() => loadGatewayConfig(writeYaml('# nothing yet\n')));
    expect(error.problems.map((problem) => problem.field)).toEqual(['pbx.account', 'pbx.secret']);
  });

  it('a file that is not a mapping is refused as a whole', () => {
    const error = errorOf(() => loadGatewayConfig(writeYaml('- sip\n- pbx\n')));
    expect(error.field).toBe('');
    expect(error.message).toMatch(/gateway\.yaml: the file must hold sections of options .*not a list$/);
  });

  it('reports every problem, in the order of the file, one per line', () => {
    const file = writeYaml('pbx:\n  account: mbg\n  secret: s3cret\n  transport: sctp\nsip:\n  port: -1\nlog:\n  levle: debug\n');
    const error = errorOf(() => loadGatewayConfig(file));
    expect(error.problems.map((problem) => problem.field)).toEqual(['pbx.transport', 'sip.port', 'log.levle']);
    expect(error.field).toBe('pbx.transport');
    expect(error.message.split('\n')).toEqual([
      `${file}: 3 problems:`,
      '  - pbx.transport: must be udp or tcp, not "sctp"',
      '  - sip.port: must be a whole number from 0 to 65535 (0 disables it), not -1',
      '  - log.levle: unknown field "levle" — did you mean "level"?',
    ]);
  });
});

describe('reading the file', () => {
  it('a YAML syntax error gives its line and column', () => {
    const file = writeYaml('pbx:\n  account: mbg\n  secret: "s3cret\nsip:\n  port: 5060\n');
    const error = errorOf(() => loadGatewayConfig(file));
    expect(error.field).toBe('');
    expect(error.position?.line).toBeGreaterThanOrEqual(3);
    expect(error.message).toMatch(new RegExp(`^${file}: line ${error.position?.line}, column ${error.position?.column}: YAML syntax error: `));
  });

  it('names the line of a tab indentation and says to use spaces', () => {
    const file = writeYaml('pbx:\n  account: mbg\n\tsecret: s3cret\n');
    const error = errorOf(() => loadGatewayConfig(file));
    expect(error.position).toEqual({ line: 3, column: 1 });
    expect(error.message).toContain(`${file}: line 3, column 1: YAML syntax error:`);
    expect(error.message).toContain('indent with spaces, not tabs');
  });

  it('a repeated option is a syntax error at its second occurrence', () => {
    const file = writeYaml('pbx:\n  account: mbg\n  secret: s3cret\n  account: other\n');
    const error = errorOf(() => loadGatewayConfig(file));
    expect(error.position?.line).toBe(4);
    expect(error.message).toContain('each option may appear only once');
  });

  it('a missing file: says which one and how to create it from the example', () => {
    const file = join(dir, 'absent', 'gateway.yaml');
    const error = errorOf(() => loadGatewayConfig(file));
    expect(error.field).toBe('');
    expect(error.message).toContain(`${file}: no such file`);
    expect(error.message).toContain(`cp ${GATEWAY_EXAMPLE_FILE} ${file}`);
    expect(existsSync(GATEWAY_EXAMPLE_FILE)).toBe(true);
  });

  it('a directory instead of a file is named as such', () => {
    expect(errorOf(() => loadGatewayConfig(dir)).message).toContain(`${dir} is a directory`);
  });
});

describe('gateway.example.yaml', () => {
  const exampleDir = dirname(GATEWAY_EXAMPLE_FILE);

  it('loads as is and holds exactly the defaults (with placeholder account and secret)', () => {
    expect(loadGatewayConfig(GATEWAY_EXAMPLE_FILE)).toEqual(defaultGatewayConfig({ account: 'mbg', secret: 'change-me' }, exampleDir));
  });

  it('documents every option: with its "#name: value" examples switched on, it sets them all, validly', () => {
    const text = readFileSync(GATEWAY_EXAMPLE_FILE, 'utf8');
    const everything = text.replace(/^(\s*)#(\s*(?:- )?[A-Za-z][A-Za-z0-9]*:(?: |$))/gm, '$1$2');
    expect(everything).not.toBe(text);
    const config = loadGatewayConfig(writeYaml(everything));
    expect(config.admin.token).toBeDefined();
    expect(config.pbx.apiCaFile).toBeDefined();
    expect(config.devices.length).toBeGreaterThan(0);
    expect(config.security.accessList.length).toBeGreaterThan(0);
    expect(leafPaths(parse(everything)).sort()).toEqual(optionPaths().sort());
  });

  it('the README\'s configuration table has a row for every option', () => {
    const whole = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const start = whole.indexOf('## Configuration');
    const end = whole.indexOf('\n## ', start + 1);
    const readme = whole.slice(start, end < 0 ? undefined : end);
    const rows = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]);
    expect(rows.sort()).toEqual(optionPaths().sort());
  });
});

/** The options an object sets, named like optionPaths() names them. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value) && value.length > 0 && value.every((entry) => typeof entry === 'object' && entry !== null)) {
    return [...new Set(value.flatMap((entry) => leafPaths(entry, `${prefix}[]`)))];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, child]) => leafPaths(child, prefix === '' ? key : `${prefix}.${key}`));
}
