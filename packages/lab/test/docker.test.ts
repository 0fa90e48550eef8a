import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@psi-lab/testkit';

/**
 * The Docker lab (docker/Dockerfile.lab) built and run with testcontainers: opt-in, because it
 * needs a Docker engine and minutes to build. `PSI_DOCKER_TESTS=1 npm test` runs it.
 */
const enabled = process.env.PSI_DOCKER_TESTS === '1';
const SUITE = 'docker: the lab image builds, starts healthy and serves its gateway';

if (!enabled) {
  const line = '*'.repeat(100);
  console.warn(`\n${line}\n*** SKIPPED "${SUITE}": needs a Docker engine; run PSI_DOCKER_TESTS=1 npm test where one runs\n${line}\n`);
}

describe.skipIf(!enabled)(enabled ? SUITE : `${SUITE} [SKIPPED: set PSI_DOCKER_TESTS=1 on a machine with Docker]`, () => {
  it('answers /healthz over HTTPS, trusting the CA it generated', async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    const image = await GenericContainer.fromDockerfile(REPO_ROOT, 'docker/Dockerfile.lab').build('psi-lab-test', { deleteOnExit: true });
    const container = await image
      .withCommand(['--public-address', '127.0.0.1'])
      .withExposedPorts(8443, 5061)
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(180_000)
      .start();
    try {
      const { output: ca, exitCode } = await container.exec(['cat', '/data/certs/ca.pem']);
      expect(exitCode).toBe(0);
      const body = await new Promise<string>((resolve, reject) => {
        https.get({ host: container.getHost(), port: container.getMappedPort(8443), path: '/healthz', ca, servername: 'localhost' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(JSON.parse(body)).toEqual({ status: 'ok' });
    } finally {
      await container.stop();
    }
  }, 600_000);
});
