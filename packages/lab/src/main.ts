import { join, resolve } from 'node:path';
import pino from 'pino';
import { GATEWAY_ADMIN_PORT, GATEWAY_HTTPS_PORT, GATEWAY_SIP_PORT, GATEWAY_TLS_PORT } from './gateway-role.js';
import { startLab } from './lab.js';
import { LAB_USAGE, LabOptionError, parseLabArgs } from './options.js';
import { LAB_REALM, PBX_SIP_PORT } from './pbx-role.js';
import { DEMO_USERS, writeSippCsv } from './users.js';

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
  if (options.help) {
    console.log(LAB_USAGE);
    process.exit(0);
  }
  const logger = pino({ level: options.sipTrace ? 'debug' : process.env.LOG_LEVEL ?? 'info' });
  const running = await startLab({
    dataDir: options.dataDir, host: options.host, publicAddress: options.publicAddress, internalHost: options.internalHost,
    adminHost: options.adminHost, users: options.users, trunk: options.trunk, whiteList: options.whiteList, mediaNetworks: options.mediaNetworks, logger, sipTrace: options.sipTrace,
  });
  if (options.csv) writeSippCsv(options.csv, running.loadUsers.length > 0 ? running.loadUsers : DEMO_USERS);
  // Ready for Ctrl-C before saying so: a signal right after the banner must stop the lab cleanly.
  const stop = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'psi-lab stopping');
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  const host = options.host;
  const pub = running.publicAddress;
  const internal = options.internalHost;
  const dataDir = resolve(options.dataDir);
  const lab = running.pbx;
  const gw = running.gateway;
  const admin = `https://${running.adminHost === '0.0.0.0' ? internal : running.adminHost}:${GATEWAY_ADMIN_PORT}`;
  const adminTokenFile = gw.config.admin.tokenFile;
  const calls = Math.max(running.loadUsers.length, DEMO_USERS.length);
  const csvFile = options.csv ? resolve(options.csv) : '<csv from --csv>';
  const ca = running.certs.caFile;
  console.log([
    '',
    'psi-lab is running (roles so far: gateway — the MiVoice Border Gateway role; pbx — the MiVoice 5000 role)',
    `  gateway SIP      udp ${host}:${GATEWAY_SIP_PORT}, tcp ${host}:${GATEWAY_SIP_PORT}, tls ${host}:${GATEWAY_TLS_PORT} (set-side digest MD5)`,
    `  gateway WSS      wss://${pub}:${GATEWAY_HTTPS_PORT}/sip (and /healthz)`,
    `  gateway admin    ${admin}/ status page, /api/status, /metrics — admin token ${gw.gateway.adminToken} (kept in ${adminTokenFile}, 0600)`,
    `                   (a browser asks for it: any user name, the token as password; tools: "Authorization: Bearer <token>")`,
    `  gateway config   ${gw.configFile}`,
    `  pbx (site LAN)   SIP udp/tcp ${internal}:${PBX_SIP_PORT} (realm ${LAB_REALM}; heard only from the gateway), management API ${lab.apiUrl}/api`,
    `                   (Authorization: Bearer <token in ${join(dataDir, 'api-token')}>)`,
    `  database         ${join(dataDir, 'pbx.db')}`,
    options.trunk ? `  SIP trunk        numbers starting with 0 go to ${options.trunk}` : '',
    `  CA certificate   ${ca} (its key is kept apart, in ${join(dataDir, 'ca')})`,
    `  demo users       ${DEMO_USERS.map((u) => `${u.extension} / ${u.password}`).join(', ')}`,
    running.loadUsers.length > 0 ? `  load-test users  2000..${1999 + options.users}, password load<extension>` : '',
    options.csv ? `  SIPp injection   ${resolve(options.csv)}` : '',
    `  register a set   server tls://${pub}:${GATEWAY_TLS_PORT} (or wss://${pub}:${GATEWAY_HTTPS_PORT}/sip), user 1001, password alice-1001, trust ${ca}`,
    `  call with it     npx psi-phone answer --user 1002 --password bob-1002 --server tls://${pub}:${GATEWAY_TLS_PORT} --ca ${ca}`,
    `                   npx psi-phone call 1002 --user 1001 --password alice-1001 --play tone:1000 --seconds 5 --server tls://${pub}:${GATEWAY_TLS_PORT} --ca ${ca}`,
    options.whiteList.length > 0 ? `  white-listed     ${options.whiteList.join(', ')} (never counted or blocked)` : '',
    options.mediaNetworks.length > 0 ? `  media networks   ${options.mediaNetworks.join(', ')} (a set's media is taken from there too)` : '',
    `  load-test        white-list the load generator first (--white-list 127.0.0.1/32, or security.accessList in ${gw.configFile}), then`,
    `                   sipp -sf scenarios/register-auth-uac.xml -inf ${csvFile} -t u1 -m ${calls} -i 127.0.0.1 ${pub}:${GATEWAY_SIP_PORT}`,
    `  try: curl --cacert ${ca} -H "Authorization: Bearer $(cat ${adminTokenFile})" ${admin}/api/registrations`,
    `       openssl s_client -connect ${pub}:${GATEWAY_TLS_PORT} -CAfile ${ca} -brief </dev/null`,
    `       NODE_EXTRA_CA_CERTS=${ca} PSI_PBX_TOKEN=$(cat ${join(dataDir, 'api-token')}) npx psi-pbx --api ${lab.apiUrl} subscriber list`,
    'Ctrl-C stops it.',
    '',
  ].filter((l) => l !== '').join('\n'));
}

main().catch((e: Error) => {
  console.error(`psi-lab failed to start: ${e.message}`);
  process.exit(1);
});
