import { isIP } from 'node:net';
import { cidrContains, parseAddress } from '@psi-lab/sip';
import type { PbxStore } from '../store/types.js';

/**
 * Who may talk SIP to the pbx at all. A MiVoice 5000 sits on the site's LAN: remote sets reach
 * it only through its MBG, desk phones from the site's own networks, the PSTN through its
 * trunk. Everything else is dropped before parsing, unanswered. The MBG entry and the site
 * networks are re-read when the store's configuration changes, so an administrator's edit
 * takes effect at once.
 */
export class SipAccess {
  private seenVersion = -1;
  private exact = new Set<string>();
  private networks: string[] = [];

  constructor(
    private readonly store: PbxStore,
    /** Addresses always heard besides the store's: the SIP trunk. */
    private readonly alsoAllowed: readonly string[] = [],
  ) {}

  allows(address: string): boolean {
    if (this.seenVersion !== this.store.configVersion) this.reload();
    const key = canonical(address);
    return this.exact.has(key) || this.networks.some((cidr) => cidrContains(cidr, key));
  }

  /** What is allowed now, for the operator: the MBG's address, the trunk's, the site networks. */
  describe(): { mbg?: string; trunk: string[]; siteNetworks: string[] } {
    if (this.seenVersion !== this.store.configVersion) this.reload();
    const mbg = this.store.getMbg()?.address;
    return { mbg, trunk: [...this.alsoAllowed], siteNetworks: [...this.networks] };
  }

  private reload(): void {
    this.seenVersion = this.store.configVersion;
    const mbg = this.store.getMbg();
    // An MBG named by host name cannot be matched against packets: the API warns about it.
    const addresses = [...(mbg && isIP(mbg.address) ? [mbg.address] : []), ...this.alsoAllowed];
    this.exact = new Set(addresses.map(canonical));
    this.networks = this.store.listSiteNetworks().map((n) => n.cidr);
  }
}

/** IPv4-mapped IPv6 and IPv4 are one source. */
function canonical(address: string): string {
  const ip = parseAddress(address);
  if (!ip) return address;
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  return address.toLowerCase();
}
