import { newCallId, type Credentials, type Destination, type SipApp } from '@psi-lab/sip';
import type { CredentialCache } from '../credentials/credential-cache.js';

export interface PbxTarget {
  address: string;
  port: number;
  transport: 'udp' | 'tcp';
}

/**
 * The gateway's side of the association with its one pbx: where the pbx is, the SIP element
 * that talks to it, and the ICP-side credentials the pbx's challenges are answered with.
 */
export class PbxLink {
  constructor(
    readonly app: SipApp,
    readonly target: PbxTarget,
    private readonly credentials: CredentialCache,
    /** How the pbx reaches us: host and port of the pbx-side listener. */
    readonly local: { host: string; port: number },
  ) {}

  get destination(): Destination {
    return { protocol: this.target.transport, address: this.target.address, port: this.target.port };
  }

  get domain(): string {
    return hostOf(this.target.address);
  }

  /** A URI at the pbx: `sip:user@pbx:port;transport=tcp`. */
  uri(user?: string): string {
    const t = this.target.transport === 'udp' ? '' : `;transport=${this.target.transport}`;
    return `sip:${user ? `${user}@` : ''}${hostOf(this.target.address)}:${this.target.port}${t}`;
  }

  /** Our contact at the pbx for a set's binding or a dialog. */
  contact(user: string): string {
    const t = this.target.transport === 'udp' ? '' : `;transport=${this.target.transport}`;
    return `<sip:${user}@${hostOf(this.local.host)}:${this.local.port}${t}>`;
  }

  icp(user: string): Credentials | undefined {
    return this.credentials.icpCredentials(user);
  }

  newCallId(): string {
    return newCallId(this.local.host);
  }

  /** `address:port/transport`, as the status page shows it. */
  get label(): string {
    return `${this.target.address}:${this.target.port}/${this.target.transport}`;
  }
}

export function hostOf(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
