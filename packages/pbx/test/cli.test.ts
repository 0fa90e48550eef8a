import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { leaseLoopbackAddress } from '@psi-lab/testkit';
import { startManagementApi, type RunningManagementApi } from '../src/api/server.js';
import type { BlockSource } from '../src/api/routes.js';
import { runCli } from '../src/cli/psi-pbx.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { seedDefaults } from '../src/store/seed.js';

const TOKEN = 'cli-test-token';
/** An API address where nothing listens: an address of this file's own, used for nothing else. */
const DEAD_API = `http://${await leaseLoopbackAddress()}:8070`;
const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
const cliScript = fileURLToPath(new URL('../src/cli/psi-pbx.ts', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let store: SqliteStore;
let api: RunningManagementApi;
let blocked: Map<string, { address: string; reason: 'authentication failures'; until: number }>;
const blocks: BlockSource = { list: () => [...blocked.values()], lift: (address) => blocked.delete(address) };

/** The CLI in this process: same code path as the binary, without a 0.5 s spawn per command. */
async function cli(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    env: { PSI_PBX_API: `http://127.0.0.1:${api.port}`, PSI_PBX_TOKEN: TOKEN },
  });
  return { code, stdout, stderr };
}

/**
 * The real binary, as a user runs it. PSI_PBX_API is pinned (to DEAD_API unless `env` says
 * otherwise): the default, http://127.0.0.1:8070, is where a developer's lab listens.
 */
function spawnCli(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(tsx, [cliScript, ...argv], { env: { ...process.env, PSI_PBX_TOKEN: '', PSI_PBX_API: DEAD_API, ...env }, timeout: 15_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

// Every test gets a fresh store (the seeded defaults only), API and blocks.
beforeEach(async () => {
  store = SqliteStore.open(':memory:', { realm: 'psi-lab' });
  seedDefaults(store);
  blocked = new Map([['203.0.113.7', { address: '203.0.113.7', reason: 'authentication failures', until: Date.UTC(2030, 0, 1) }]]);
  api = await startManagementApi({ store, token: TOKEN, port: 0, blocks });
});

afterEach(async () => {
  await api.close();
  store.close();
});

describe('psi-pbx against a running API', () => {
  it('manages subscribers: add, list, show, set, remove', async () => {
    const added = await cli('subscriber', 'add', '--extension', '1004', '--name', 'Dan', '--email', 'dan@x', '--password', 'dan-secret-1', '--role', 'Zoom PSI User');
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toContain('extension:   1004');
    await cli('subscriber', 'add', '--extension', '1002', '--name', 'Bob', '--email', 'bob@x', '--password', 'bob-secret-1');

    const set = await cli('subscriber', 'set', '1004', '--dnd', 'on', '--forward-all', '1002', '--forward-noanswer', '1002', '--delay', '15');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('forwarding:  all → 1002, no answer → 1002 after 15 s');
    // One kind changed, the others kept.
    expect((await cli('subscriber', 'set', '1004', '--forward-all', 'off', '--forward-busy', '1002')).stdout)
      .toContain('forwarding:  busy → 1002, no answer → 1002 after 15 s');

    const list = await cli('subscriber', 'list');
    expect(list.stdout.split('\n')[0]).toMatch(/^EXTENSION\s+NAME\s+E-MAIL\s+ROLE\s+DND\s+FORWARDING$/);
    expect(list.stdout).toMatch(/1004\s+Dan\s+dan@x\s+Zoom PSI User\s+on\s+busy → 1002/);

    const json = await cli('--json', 'subscriber', 'show', '1004');
    expect(JSON.parse(json.stdout)).toMatchObject({ extension: '1004', dndActive: true, forwardings: [{ kind: 'busy' }, { kind: 'noAnswer', delaySeconds: 15 }] });

    expect((await cli('subscriber', 'set', '1004', '--no-forward')).stdout).toContain('forwarding:  -');
    expect(await cli('subscriber', 'set', '1004', '--delay', '30')).toMatchObject({ code: 1, stderr: expect.stringContaining('has no no-answer forwarding') });
    expect(await cli('subscriber', 'remove', '1002')).toEqual({ code: 0, stdout: 'removed subscriber 1002\n', stderr: '' });
    expect(JSON.parse((await cli('--json', 'subscriber', 'remove', '1004')).stdout)).toEqual({ ok: true });
    expect((await cli('subscriber', 'list')).stdout).toBe('no subscribers\n');
  });

  it('prints API errors as "psi-pbx: <message>" with exit code 1', async () => {
    await cli('subscriber', 'add', '--extension', '1010', '--name', 'A', '--email', 'a@x', '--password', 'a-secret-1');
    const duplicate = await cli('subscriber', 'add', '--extension', '1011', '--name', 'B', '--email', 'A@x', '--password', 'b-secret-1');
    expect(duplicate).toEqual({ code: 1, stdout: '', stderr: 'psi-pbx: email A@x is already used by subscriber 1010: each subscriber needs its own e-mail\n' });
    expect((await cli('subscriber', 'add', '--extension', '1011', '--name', 'B', '--email', 'b@x', '--password', '12345678')).stderr)
      .toMatch(/^psi-pbx: password is too weak .* the policy is at least 8 characters/);
    expect((await cli('allow-list', 'add', '10.0.0.0/33')).stderr).toContain('psi-pbx: cidr prefix length "/33" is out of range');
    expect((await cli('subscriber', 'show', '1999')).code).toBe(1);
    await cli('subscriber', 'remove', '1010');
  });

  it('manages roles', async () => {
    expect((await cli('role', 'set', 'Gold Users', '--zoom-psi', '--description', 'VIPs')).stdout).toBe('role "Gold Users" saved (Zoom PSI: yes)\n');
    expect((await cli('role', 'set', 'Gold Users', '--description', 'very important')).stdout).toContain('Zoom PSI: yes');
    expect((await cli('role', 'list')).stdout).toMatch(/Gold Users\s+yes\s+very important/);
    expect((await cli('role', 'remove', 'Gold Users')).stdout).toBe('removed role "Gold Users"\n');
    expect((await cli('role', 'remove', 'Gold Users')).stderr).toBe('psi-pbx: there is no role "Gold Users"\n');
  });

  it('manages the MBG entry and the allow-list, warning about an unlisted gateway', async () => {
    expect((await cli('mbg', 'show')).stdout).toBe('no MBG entry is configured\n');
    const set = await cli('mbg', 'set', '--address', '127.0.0.1', '--fqdn', 'mbg.example.com', '--account', 'mbg', '--secret', 'shared-secret-1');
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('shared secret: (set, not shown)');
    expect(set.stdout).not.toContain('shared-secret-1');
    expect(set.stderr).toContain('psi-pbx: warning: the MBG address 127.0.0.1 is not on the Allow-List');

    expect((await cli('allow-list', 'add', '127.0.0.1/32', '--comment', 'the gateway')).stdout).toBe('added 127.0.0.1/32 to the Allow-List as entry 1\n');
    expect((await cli('mbg', 'show')).stderr).toBe('');
    expect((await cli('allow-list', 'list')).stdout).toMatch(/^ID\s+CIDR\s+COMMENT\n1\s+127\.0\.0\.1\/32\s+the gateway\n$/);
    expect(JSON.parse((await cli('--json', 'mbg', 'show')).stdout)).toEqual({ address: '127.0.0.1', publicFqdn: 'mbg.example.com', account: 'mbg', warnings: [] });
    expect((await cli('allow-list', 'remove', '1')).stdout).toBe('removed Allow-List entry 1\n');
    expect((await cli('mbg', 'clear')).stdout).toBe('removed the MBG entry\n');
  });

  it('lists and lifts blocks', async () => {
    expect((await cli('blocks', 'list')).stdout).toMatch(/203\.0\.113\.7\s+authentication failures\s+2030-01-01T00:00:00\.000Z/);
    expect((await cli('blocks', 'lift', '203.0.113.7')).stdout).toBe('lifted the block on 203.0.113.7\n');
    expect((await cli('blocks', 'lift', '203.0.113.7')).stderr).toBe('psi-pbx: 203.0.113.7 is not blocked\n');
  });

  it('fails cleanly on an unreachable API or a wrong token', async () => {
    let stderr = '';
    const unreachable = await runCli(['--api', DEAD_API, 'role', 'list'], { stdout: () => undefined, stderr: (t) => { stderr += t; }, env: { PSI_PBX_TOKEN: TOKEN } });
    expect(unreachable).toBe(1);
    expect(stderr).toBe(`psi-pbx: cannot reach the management API at ${DEAD_API}: ECONNREFUSED\n`);
    expect((await cli('--token', 'wrong', 'role', 'list')).stderr).toBe('psi-pbx: the bearer token is wrong\n');
  });
});

describe('psi-pbx as a process', () => {
  it('runs a command, exits 0 and prints to stdout', async () => {
    const run = await spawnCli(['--api', `http://127.0.0.1:${api.port}`, '--token', TOKEN, 'role', 'list']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/Zoom PSI User\s+yes/);
  });

  it('exits 1 on an API error, 2 with the usage text on a usage error or a missing token', async () => {
    const [apiError, usageError, noToken] = await Promise.all([
      spawnCli(['subscriber', 'show', '1999'], { PSI_PBX_TOKEN: TOKEN, PSI_PBX_API: `http://127.0.0.1:${api.port}` }),
      spawnCli(['subscriber', 'fly']),
      spawnCli(['role', 'list', '--api', `http://127.0.0.1:${api.port}`]),
    ]);
    expect(apiError).toEqual({ code: 1, stdout: '', stderr: 'psi-pbx: there is no subscriber with extension 1999\n' });
    expect(usageError.code).toBe(2);
    expect(usageError.stderr).toMatch(/^psi-pbx: unknown command "subscriber fly"\n\nusage: psi-pbx/);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('psi-pbx: no API token: pass --token TOKEN or set PSI_PBX_TOKEN');
  });
});
