import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { ensureLabCertificates } from '@psi-lab/pki';
import { LabOptionError, parseLabArgs } from './options.js';
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
  const certs = ensureLabCertificates(join(dataDir, 'certs'), { names: ['localhost', '127.0.0.1', options.host] });
  const loadUsers = loadTestUsers(options.users);
  if (options.csv) writeSippCsv(options.csv, loadUsers.length > 0 ? loadUsers : DEMO_USERS);
  const token = ensureApiToken(join(dataDir, 'api-token'));

  const lab = await startLabPbx({
    dbFile: join(dataDir, 'pbx.db'), host: options.host, users: [...DEMO_USERS, ...loadUsers],
    zoomUsers: new Set(DEMO_USERS.map((u) => u.extension)), token, logger, sipTrace: options.sipTrace, trunk: options.trunk,
  });
  const host = options.host;
  const calls = Math.max(loadUsers.length, DEMO_USERS.length);
  console.log([
    '',
    'psi-lab is running (roles so far: pbx — the MiVoice 5000 role)',
    `  pbx SIP          udp ${host}:${PBX_SIP_PORT}, tcp ${host}:${PBX_SIP_PORT} (realm ${LAB_REALM}, digest MD5 and SHA-256)`,
    `  pbx management   http://${host}:${lab.apiPort}/api  (Authorization: Bearer <token in ${join(dataDir, 'api-token')}>)`,
    `  database         ${join(dataDir, 'pbx.db')}`,
    options.trunk ? `  SIP trunk        numbers starting with 0 go to ${options.trunk}` : '',
    `  CA certificate   ${certs.files!.caFile}`,
    `  demo users       ${DEMO_USERS.map((u) => `${u.extension} / ${u.password}`).join(', ')}`,
    options.users > 0 ? `  load-test users  2000..${1999 + options.users}, password load<extension>` : '',
    options.csv ? `  SIPp injection   ${resolve(options.csv)}` : '',
    `  try: sipp -sf scenarios/register-auth-uac.xml -inf ${options.csv ? resolve(options.csv) : '<csv from --csv>'} -t u1 -m ${calls} -i ${host} ${host}:${PBX_SIP_PORT}`,
    `       PSI_PBX_TOKEN=$(cat ${join(dataDir, 'api-token')}) npx psi-pbx --api http://${host}:${lab.apiPort} subscriber list`,
    'Ctrl-C stops it.',
    '',
  ].filter((l) => l !== '').join('\n'));

  const stop = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'psi-lab stopping');
    await lab.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e: Error) => {
  console.error(`psi-lab failed to start: ${e.message}`);
  process.exit(1);
});
