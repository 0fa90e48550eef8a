import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runGatewayCli } from '../src/cli/psi-gateway.js';
import { GATEWAY_EXAMPLE_FILE } from '../src/index.js';

describe('psi-gateway', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psi-gw-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const { code, gateway } = await runGatewayCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
    await gateway?.close();
    return { code, out, err };
  };

  it('--check accepts the example file as it ships', async () => {
    const r = await run(['--config', GATEWAY_EXAMPLE_FILE, '--check']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('valid');
  });

  it('--check names the wrong field and the fix, with exit code 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'pbx:\n  account: mbg\n  secret: s3cret\n  port: abc\nsip:\n  tlsport: 5061\n');
    const r = await run(['--config', file, '--check']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('pbx.port');
    expect(r.err).toContain('tlsPort');
  });

  it('says what is missing: no --config, or a file that does not exist', async () => {
    expect((await run([])).err).toContain('--config is required');
    const missing = await run(['--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('gateway.example.yaml');
  });
});
