#!/usr/bin/env node
// `npx psi-pbx ...`: the pbx's management CLI, run from its TypeScript source (no build step).
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/psi-pbx.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
