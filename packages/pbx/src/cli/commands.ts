import type { MbgView } from '../api/routes.js';
import type { AllowListEntry, CloudLinkRole, Forwarding, ForwardKind, Subscriber, SubscriberPatch } from '../store/types.js';
import { CliError, pathOf, type ApiClient } from './api-client.js';
import type { Command, SubscriberChanges } from './args.js';
import { allowListTable, blockTable, cidrTable, mbgDetails, roleTable, subscriberDetails, subscriberTable, type BlockView } from './format.js';

export interface CommandOutput {
  stdout: string;
  /** Warnings: on stderr, so that stdout stays the answer. */
  stderr?: string;
}

/**
 * Runs one command against the API. `json`: print the API's own JSON (an empty answer
 * becomes {"ok":true}), the stable format for scripts.
 */
export async function runCommand(command: Command, api: ApiClient, json: boolean): Promise<CommandOutput> {
  // The API's answers are trusted to match its documented shapes (the CLI ships with it).
  const out = <T>(value: unknown, human: (answer: T) => string): CommandOutput =>
    ({ stdout: json ? `${JSON.stringify(value ?? { ok: true }, null, 2)}\n` : human(value as T) });
  const done = (message: string) => (value: unknown): CommandOutput => out(value, () => `${message}\n`);

  switch (command.kind) {
    case 'help':
      throw new Error('help is printed by the caller');
    case 'subscriber add':
      return out(await api.request('POST', '/api/subscribers', command.subscriber), subscriberDetails);
    case 'subscriber list':
      return out(await api.request('GET', '/api/subscribers'), subscriberTable);
    case 'subscriber show':
      return out(await api.request('GET', pathOf('/api/subscribers', command.extension)), subscriberDetails);
    case 'subscriber set': {
      const patch = await subscriberPatch(api, command.extension, command.changes);
      return out(await api.request('PATCH', pathOf('/api/subscribers', command.extension), patch), subscriberDetails);
    }
    case 'subscriber remove':
      return done(`removed subscriber ${command.extension}`)(await api.request('DELETE', pathOf('/api/subscribers', command.extension)));
    case 'role list':
      return out(await api.request('GET', '/api/roles'), roleTable);
    case 'role set': {
      const { zoomPsi, description } = command;
      const body = { ...(zoomPsi !== undefined ? { zoomPsi } : {}), ...(description !== undefined ? { description } : {}) };
      return out(await api.request('PUT', pathOf('/api/roles', command.name), body),
        (role: CloudLinkRole) => `role "${role.name}" saved (Zoom PSI: ${role.zoomPsi ? 'yes' : 'no'})\n`);
    }
    case 'role remove':
      return done(`removed role "${command.name}"`)(await api.request('DELETE', pathOf('/api/roles', command.name)));
    case 'mbg show': {
      let mbg: unknown;
      try {
        mbg = await api.request('GET', '/api/mbg');
      } catch (error) {
        // "None configured" is an answer to "show", not a failure.
        if (error instanceof CliError && error.status === 404) return { stdout: json ? 'null\n' : 'no MBG entry is configured\n' };
        throw error;
      }
      return withWarnings(out(mbg, mbgDetails), mbg as MbgView, json);
    }
    case 'mbg set': {
      const mbg = await api.request('PUT', '/api/mbg', command.fields);
      return withWarnings(out(mbg, mbgDetails), mbg as MbgView, json);
    }
    case 'mbg clear':
      return done('removed the MBG entry')(await api.request('DELETE', '/api/mbg'));
    case 'allow-list list':
      return out(await api.request('GET', '/api/allow-list'), allowListTable);
    case 'allow-list add':
      return out(await api.request('POST', '/api/allow-list', { cidr: command.cidr, comment: command.comment }),
        (entry: AllowListEntry) => `added ${entry.cidr} to the Allow-List as entry ${entry.id}\n`);
    case 'allow-list remove':
      return done(`removed Allow-List entry ${command.id}`)(await api.request('DELETE', pathOf('/api/allow-list', command.id)));
    case 'site-network list':
      return out(await api.request('GET', '/api/site-networks'), (entries: AllowListEntry[]) => cidrTable(entries, 'no site networks: only the MBG reaches the pbx'));
    case 'site-network add':
      return out(await api.request('POST', '/api/site-networks', { cidr: command.cidr, comment: command.comment }),
        (entry: AllowListEntry) => `added ${entry.cidr} to the site networks as entry ${entry.id}\n`);
    case 'site-network remove':
      return done(`removed site network ${command.id}`)(await api.request('DELETE', pathOf('/api/site-networks', command.id)));
    case 'blocks list':
      return out(await api.request('GET', '/api/blocks'), (blocks: BlockView[]) => blockTable(blocks));
    case 'blocks lift':
      return done(`lifted the block on ${command.address}`)(await api.request('DELETE', pathOf('/api/blocks', command.address)));
  }
}

function withWarnings(output: CommandOutput, mbg: MbgView, json: boolean): CommandOutput {
  if (json || mbg.warnings.length === 0) return output;
  return { ...output, stderr: mbg.warnings.map((w) => `psi-pbx: warning: ${w}\n`).join('') };
}

/**
 * The PATCH for "subscriber set". Forwarding options change one kind each and keep the
 * others, so the current list is read first; --no-forward starts from an empty one.
 */
async function subscriberPatch(api: ApiClient, extension: string, changes: SubscriberChanges): Promise<SubscriberPatch> {
  const { clearForwardings, forward, delaySeconds, dndActive, ...fields } = changes;
  const patch: SubscriberPatch = { ...fields };
  if (dndActive !== undefined) patch.dndActive = dndActive;
  const touchesForwarding = clearForwardings || Object.keys(forward).length > 0 || delaySeconds !== undefined;
  if (!touchesForwarding) return patch;

  const current = (await api.request('GET', pathOf('/api/subscribers', extension))) as Subscriber;
  const byKind = new Map<ForwardKind, Forwarding>(clearForwardings ? [] : current.forwardings.map((f) => [f.kind, f]));
  for (const [kind, target] of Object.entries(forward) as Array<[ForwardKind, string | null]>) {
    if (target === null) byKind.delete(kind);
    else byKind.set(kind, { ...byKind.get(kind), kind, target });
  }
  if (delaySeconds !== undefined) {
    const noAnswer = byKind.get('noAnswer');
    if (!noAnswer) throw new CliError(`--delay is the no-answer delay, and ${extension} has no no-answer forwarding: add --forward-noanswer EXT`);
    byKind.set('noAnswer', { ...noAnswer, delaySeconds });
  }
  patch.forwardings = [...byKind.values()];
  return patch;
}
