import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApiClient, CliError, type FetchFunction } from './api-client.js';
import { parseArguments, USAGE, UsageError } from './args.js';
import { runCommand } from './commands.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  fetch?: FetchFunction;
}

/** psi-pbx: the pbx's administration from the shell, through its management API. Returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const usageError = (message: string): number => {
    io.stderr(`psi-pbx: ${message}\n\n${USAGE}`);
    return 2;
  };
  try {
    const invocation = parseArguments(argv, io.env);
    if (invocation.command.kind === 'help') {
      io.stdout(USAGE);
      return 0;
    }
    if (!invocation.token) return usageError('no API token: pass --token TOKEN or set PSI_PBX_TOKEN');
    const api = new ApiClient(invocation.api, invocation.token, io.fetch);
    const output = await runCommand(invocation.command, api, invocation.json);
    io.stdout(output.stdout);
    if (output.stderr) io.stderr(output.stderr);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message);
    if (error instanceof CliError) {
      io.stderr(`psi-pbx: ${error.message}\n`);
      return 1;
    }
    io.stderr(`psi-pbx: unexpected failure: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    return 1;
  }
}

function isMainModule(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  const code = await runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  });
  // exitCode, not exit(): lets stdout drain when piped.
  process.exitCode = code;
}
