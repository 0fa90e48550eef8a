import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { ensureLabCertificates } from '@psi-lab/pki';
import { LabOptionError, parseLabArgs } from './options.js';
import { GATEWAY_HTTPS_PORT, GATEWAY_SIP_PORT, GATEWAY_TLS_PORT, startLabGateway } from './gateway-role.js';
import { LAB_REALM, PBX_SIP_PORT, startLabPbx } from './pbx-role.js';
import { ensureApiToken } from './token.js';
import { DEMO_USERS, loadTestUsers, writeSippCsv } from './users.js';

/** `npm run lab`: everything psi-lab has so far, on this machine, in one process. */
async function main(): Promise<void> {
  let options;
  try {
    options = parseLabArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof LabOptionError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
  const logger = pino({ level: options.sipTrace ? 'debug' : process.env.LOG_LEVEL ?? 'info' });
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Made now for the roles that serve TLS next (the gateway); clients install ca.pem.
  const publicAddress = options.publicAddress ?? (options.host === '0.0.0.0' ? '127.0.0.1' : options.host);
  const certs = ensureLabCertificates(join(dataDir, 'certs'), { names: [...new Set(['localhost', '127.0.0.1', publicAddress])] });
  const loadUsers = loadTestUsers(options.users);
  if (options.csv) writeSippCsv(options.csv, loadUsers.length > 0 ? loadUsers : DEMO_USERS);
  const token = ensureApiToken(join(dataDir, 'api-token'));

  const lab = await startLabPbx({
    dbFile: join(dataDir, 'pbx.db'), host: options.host, users: [...DEMO_USERS, ...loadUsers],
    zoomUsers: new Set(DEMO_USERS.map((u) => u.extension)), token, logger, sipTrace: options.sipTrace, trunk: options.trunk,
  });
  let gw;
  try {
    gw = await startLabGateway({ dataDir, host: options.host, publicAddress, pbxPort: PBX_SIP_PORT, apiPort: lab.apiPort, store: lab.store, logger, sipTrace: options.sipTrace });
  } catch (e) {
    await lab.close();
    throw e;
  }
  // Ready for Ctrl-C before saying so: a signal right after the banner must stop the lab cleanly.
  const running = gw;
  const stop = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'psi-lab stopping');
    await running.close();
    await lab.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  const host = options.host;
  const pub = publicAddress;
  const calls = Math.max(loadUsers.length, DEMO_USERS.length);
  const csvFile = options.csv ? resolve(options.csv) : '<csv from --csv>';
  console.log([
    '',
    'psi-lab is running (roles so far: gateway — the MiVoice Border Gateway role; pbx — the MiVoice 5000 role)',
    `  gateway SIP      udp ${host}:${GATEWAY_SIP_PORT}, tcp ${host}:${GATEWAY_SIP_PORT}, tls ${host}:${GATEWAY_TLS_PORT} (set-side digest MD5, SHA-256 offered too)`,
    `  gateway HTTPS    https://${pub}:${GATEWAY_HTTPS_PORT}/ status page, /api/status, /metrics, /healthz; WSS wss://${pub}:${GATEWAY_HTTPS_PORT}/sip`,
    `  gateway config   ${gw.configFile}`,
    `  pbx SIP          udp ${host}:${PBX_SIP_PORT}, tcp ${host}:${PBX_SIP_PORT} (realm ${LAB_REALM}, digest MD5 and SHA-256)`,
    `  pbx management   http://${host}:${lab.apiPort}/api  (Authorization: Bearer <token in ${join(dataDir, 'api-token')}>)`,
    `  database         ${join(dataDir, 'pbx.db')}`,
    options.trunk ? `  SIP trunk        numbers starting with 0 go to ${options.trunk}` : '',
    `  CA certificate   ${certs.files!.caFile}`,
    `  demo users       ${DEMO_USERS.map((u) => `${u.extension} / ${u.password}`).join(', ')}`,
    options.users > 0 ? `  load-test users  2000..${1999 + options.users}, password load<extension>` : '',
    options.csv ? `  SIPp injection   ${resolve(options.csv)}` : '',
    `  register a set   server tls://${pub}:${GATEWAY_TLS_PORT} (or wss://${pub}:${GATEWAY_HTTPS_PORT}/sip), user 1001, password alice-1001, trust ${certs.files!.caFile}`,
    `  call with it     npx psi-phone answer --user 1002 --password bob-1002 --server tls://${pub}:${GATEWAY_TLS_PORT} --ca ${certs.files!.caFile}`,
    `                   npx psi-phone call 1002 --user 1001 --password alice-1001 --play tone:1000 --seconds 5 --server tls://${pub}:${GATEWAY_TLS_PORT} --ca ${certs.files!.caFile}`,
    `  try: sipp -sf scenarios/register-auth-uac.xml -inf ${csvFile} -t u1 -m ${calls} -i 127.0.0.1 ${pub}:${GATEWAY_SIP_PORT}`,
    `       openssl s_client -connect ${pub}:${GATEWAY_TLS_PORT} -CAfile ${certs.files!.caFile} -brief </dev/null`,
    `       PSI_PBX_TOKEN=$(cat ${join(dataDir, 'api-token')}) npx psi-pbx --api http://${host}:${lab.apiPort} subscriber list`,
    'Ctrl-C stops it.',
    '',
  ].filter((l) => l !== '').join('\n'));
}

main().catch((e: Error) => {
  console.error(`psi-lab failed to start: ${e.message}`);
  process.exit(1);
});
