import { join } from 'node:path';
import { ensureLabCertificates } from '@psi-lab/pki';

/** Where the lab keeps its certificates, under its data folder. */
export interface LabCertificateFiles {
  /** The CA sets and the gateway trust (a copy; its key stays in `DATA/ca`). */
  caFile: string;
  /** The gateway's "Web Server" certificate: TLS, WSS, the admin pages. */
  gateway: { certFile: string; keyFile: string };
  /** The pbx management API's certificate, for its LAN address. */
  pbxApi: { certFile: string; keyFile: string };
}

/**
 * The lab's PKI: one CA in `DATA/ca` (its private key readable by its owner only, and never
 * beside a certificate it signed), the gateway's certificate in `DATA/certs` (with `ca.pem`, what
 * sets install) and the pbx API's in `DATA/pbx-certs`. A second gateway's certificate goes to
 * `gatewayCertDir`, from the same CA. Made once; a certificate that no longer
 * covers the addresses given (a new --public-address) is made anew under the same CA.
 */
export function ensureLabPki(dataDir: string, names: { gateway: string[]; pbxApi: string[] }, gatewayCertDir = join(dataDir, 'certs')): LabCertificateFiles {
  const caDir = join(dataDir, 'ca');
  const gateway = ensureLabCertificates({ caDir, certDir: gatewayCertDir, names: unique(names.gateway) });
  const pbxApi = ensureLabCertificates({ caDir, certDir: join(dataDir, 'pbx-certs'), names: unique(names.pbxApi) });
  return {
    caFile: gateway.files!.caFile,
    gateway: { certFile: gateway.files!.certFile, keyFile: gateway.files!.keyFile },
    pbxApi: { certFile: pbxApi.files!.certFile, keyFile: pbxApi.files!.keyFile },
  };
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}
