import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSource } from '../media/rtp-session-description-handler.js';
import { REGISTERED } from '../phone/registration-status.js';
import { runAnswer } from './answer-command.js';
import { CliUsageError, parsePhoneArgs, USAGE, type PhoneCommand, type RegisterCommand, type StatusCommand } from './args.js';
import { runCall } from './call-command.js';
import { EXIT, formatDuration } from './outcome.js';
import { CliPhoneSession, type CliDeps, type CliIo } from './phone-session.js';
import { timeout } from './waits.js';

export type { CliDeps, CliIo } from './phone-session.js';

/**
 * `psi-phone status | register | call EXT | answer`: the Phone tab from a terminal or a script.
 * Resolves with the exit code (see USAGE); never throws for anything the user can fix.
 */
export async function runPhoneCli(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  let command: PhoneCommand;
  try {
    command = parsePhoneArgs(argv, { env: io.env ?? {} });
    if (command.name === 'help') {
      io.stdout(USAGE);
      return EXIT.OK;
    }
    if (command.name === 'call' || command.name === 'answer') await checkMediaFiles(command.play, command.record);
  } catch (e) {
    return usageFailure(io, e);
  }

  let session: CliPhoneSession;
  try {
    // status answers with the status alone: no live view around it.
    const output = command.name === 'status' ? { ...command.output, quiet: true } : command.output;
    session = new CliPhoneSession(command.account, output, io, deps);
  } catch (e) {
    return usageFailure(io, e);
  }
  try {
    switch (command.name) {
      case 'status':
        return await runStatus(session, command);
      case 'register':
        return await runRegister(session, command);
      case 'call':
        return await runCall(session, command);
      case 'answer':
        return await runAnswer(session, command);
    }
  } catch (e) {
    session.view.error(`psi-phone ${command.name}: ${(e as Error).message}`);
    return EXIT.NOT_REGISTERED;
  } finally {
    await session.close();
  }
}

/** Register once, print the status as the Phone tab shows it, unregister. */
async function runStatus(session: CliPhoneSession, cmd: StatusCommand): Promise<number> {
  const registered = await session.register();
  if (session.wasInterrupted) return EXIT.INTERRUPTED;
  const status = session.phone.status;
  session.view.result(status, { event: 'summary', command: 'status', user: cmd.account.user, status, server: session.serverText(), exitCode: registered ? 0 : 1 });
  return registered ? EXIT.OK : EXIT.NOT_REGISTERED;
}

/** Stay registered until Ctrl-C or --seconds; 0 when still registered at the end. */
async function runRegister(session: CliPhoneSession, cmd: RegisterCommand): Promise<number> {
  const started = session.now();
  if (!(await session.register())) return session.wasInterrupted ? EXIT.INTERRUPTED : EXIT.NOT_REGISTERED;
  session.takeIncoming(() => false, () => 'psi-phone register takes no calls (psi-phone answer does)');
  session.idleText = cmd.seconds ? `unregistering after ${cmd.seconds} s` : 'Ctrl-C to unregister';
  // The line a script waits for: from here on, Ctrl-C unregisters (before it, it interrupts).
  session.view.event(`holding the registration of ${cmd.account.user}: ${session.idleText}`, { event: 'holding', user: cmd.account.user, ...(cmd.seconds ? { seconds: cmd.seconds } : {}) });
  session.view.refresh();
  const limit = timeout(cmd.seconds);
  await Promise.race([limit.promise, session.interrupted]);
  limit.cancel();
  const status = session.phone.status;
  const still = status === REGISTERED;
  const server = session.serverText();
  session.reportStatus = false;
  await session.phone.unregister();
  const held = formatDuration((session.now() - started) / 1000);
  if (!still) session.view.error(`the registration of ${cmd.account.user} was lost: ${status} (at ${server})`);
  session.view.result(`unregistered ${cmd.account.user} after ${held}${still ? '' : ` (it was ${status})`}`, {
    event: 'summary', command: 'register', user: cmd.account.user, status, server, exitCode: still ? 0 : 1,
  });
  return still ? EXIT.OK : EXIT.NOT_REGISTERED;
}

/** Refuse now, not mid-call: a --play that cannot be read, a --record folder that is not there. */
async function checkMediaFiles(play: string | undefined, record: string | undefined): Promise<void> {
  if (play) {
    try {
      await openSource(play);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new CliUsageError(`--play ${play}: no such file — give tone:HZ (e.g. tone:1000), silence, or a 16-bit PCM WAV file`);
      throw new CliUsageError(err.message.startsWith('--play') ? err.message : `--play ${play}: ${err.message}`);
    }
  }
  if (record) {
    const folder = dirname(record);
    let isFolder = false;
    try {
      isFolder = statSync(folder).isDirectory();
    } catch {
      // not there
    }
    if (!isFolder) throw new CliUsageError(`--record ${record}: the folder ${folder} does not exist — create it, or record elsewhere`);
    try {
      if (statSync(record).isDirectory()) throw new CliUsageError(`--record ${record} is a folder: give a file name, e.g. ${record.replace(/\/$/, '')}/heard.wav`);
    } catch (e) {
      if (e instanceof CliUsageError) throw e;
    }
  }
}

function usageFailure(io: CliIo, e: unknown): number {
  if (!(e instanceof CliUsageError)) throw e;
  io.stderr(`psi-phone: ${e.message}\n`);
  return EXIT.USAGE;
}
