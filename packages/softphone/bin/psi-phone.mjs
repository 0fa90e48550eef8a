#!/usr/bin/env node
// `npx psi-phone status | register | call EXT | answer`: the softphone from a terminal, run from its TypeScript source (no build step).
import { register } from 'tsx/esm/api';

register();
const { runPhoneCli } = await import('../src/cli/psi-phone.ts');
let signals = 0;
const code = await runPhoneCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: Boolean(process.stdout.isTTY),
  columns: process.stdout.columns,
  env: process.env,
  onSignal: (handler) => {
    // The first Ctrl-C hangs up and unregisters; a second one does not wait for that.
    const onSignal = () => {
      signals++;
      if (signals > 1) process.exit(130);
      handler();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  },
});
process.exitCode = code;
// Everything is closed by now; a socket the SDK left open must not keep the command from ending.
setTimeout(() => process.exit(code), 1000).unref();
