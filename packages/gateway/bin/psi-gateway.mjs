#!/usr/bin/env node
// `npx psi-gateway --config gateway.yaml`: the gateway alone, run from its TypeScript source (no build step).
import { register } from 'tsx/esm/api';

register();
const { runGatewayCli } = await import('../src/cli/psi-gateway.ts');
const { code, gateway } = await runGatewayCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
if (!gateway) process.exit(code);
const stop = async () => {
  await gateway.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
