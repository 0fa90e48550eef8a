import { resolve, join } from 'node:path';
import pino from 'pino';
import { ensureLabCertificates } from '@psi-lab/pki';
import { LabOptionError, parseLabArgs } from './options.js';
import { startStackDemo } from './stack-demo.js';
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
  const certs = ensureLabCertificates(join(dataDir, 'certs'), { names: ['localhost', '127.0.0.1', options.host] });
  const loadUsers = loadTestUsers(options.users);
  const users = [...DEMO_USERS, ...loadUsers];
  if (options.csv) writeSippCsv(options.csv, loadUsers.length > 0 ? loadUsers : DEMO_USERS);

  const demo = await startStackDemo({ host: options.host, users, tls: certs.files!, logger, sipTrace: options.sipTrace });
  const where = demo.listeners.map((l) => `  ${l.protocol.padEnd(4)} ${l.local.address}:${l.local.port}${l.protocol === 'ws' ? '/sip' : ''}`);
  console.log([
    '',
    'psi-lab is running (roles so far: the SIP stack, as a digest-authenticating registrar)',
    ...where,
    `  CA certificate for clients: ${certs.files!.caFile}`,
    `  demo users (user / password): ${DEMO_USERS.map((u) => `${u.extension} / ${u.password}`).join(', ')}`,
    options.users > 0 ? `  load-test users: 2000..${1999 + options.users}, password pw<extension>` : '',
    options.csv ? `  SIPp injection file: ${resolve(options.csv)}` : '',
    `  try: sipp -sf scenarios/register-auth-uac.xml -inf ${options.csv ? resolve(options.csv) : '<csv from --csv>'} -t u1 -m ${Math.max(loadUsers.length, DEMO_USERS.length)} -i ${options.host} ${options.host}:5070`,
    'Ctrl-C stops it.',
    '',
  ].filter((l) => l !== '').join('\n'));

  const stop = async (signal: string): Promise<void> => {
    logger.info({ signal }, 'psi-lab stopping');
    await demo.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e: Error) => {
  console.error(`psi-lab failed to start: ${e.message}`);
  process.exit(1);
});
