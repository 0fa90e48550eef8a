import { GatewayConfigError, GATEWAY_EXAMPLE_FILE, loadGatewayConfig } from '../config/index.js';
import { startGateway, type RunningGateway } from '../gateway.js';

const USAGE = `usage: psi-gateway --config FILE.yaml [--check]
  Runs the gateway (MBG role) alone, bound to the pbx its configuration names.
  --check   validate the file and exit (0: valid; 2: the problems, each with its fix)
  Start from ${GATEWAY_EXAMPLE_FILE}`;

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** `npx psi-gateway --config gateway.yaml`: the gateway on its own (the lab embeds it otherwise). */
export async function runGatewayCli(argv: string[], io: CliIo): Promise<{ code: number; gateway?: RunningGateway }> {
  let file: string | undefined;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config') file = argv[++i];
    else if (argv[i] === '--check') check = true;
    else if (argv[i] === '--help' || argv[i] === '-h') {
      io.stdout(`${USAGE}\n`);
      return { code: 0 };
    } else {
      io.stderr(`unknown argument "${argv[i]}"\n${USAGE}\n`);
      return { code: 2 };
    }
  }
  if (!file) {
    io.stderr(`--config is required\n${USAGE}\n`);
    return { code: 2 };
  }
  let config;
  try {
    config = loadGatewayConfig(file);
  } catch (e) {
    if (e instanceof GatewayConfigError) {
      io.stderr(`${e.message}\n`);
      return { code: 2 };
    }
    throw e;
  }
  if (check) {
    io.stdout(`${file}: valid\n`);
    return { code: 0 };
  }
  const gateway = await startGateway(config);
  const l = gateway.listeners;
  io.stdout([
    `psi-gateway is running, bound to the pbx at ${config.pbx.address}:${config.pbx.port}/${config.pbx.transport}`,
    `  set-side SIP  ${[l.udp && `udp ${l.udp.local.address}:${l.udp.local.port}`, l.tcp && `tcp ${l.tcp.local.address}:${l.tcp.local.port}`, l.tls && `tls ${l.tls.local.address}:${l.tls.local.port}`].filter(Boolean).join(', ')}`,
    l.https ? `  HTTPS         https://${config.sip.publicAddress}:${l.https.port}/ (status, /api/status, /metrics, /healthz), WSS path ${config.https.wsPath}` : '',
    `  CA for sets   ${config.certificate.caFile}`,
    'SIGHUP reloads the certificate; Ctrl-C stops it.',
    '',
  ].filter((x) => x !== '').join('\n'));
  return { code: 0, gateway };
}
