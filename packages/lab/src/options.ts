import { parseCidr } from '@psi-lab/sip';

/** The flags of `npm run lab`, shared by every role the lab embeds. */
export interface LabOptions {
  /** Where everything the lab writes goes: certificates (CA at DIR/certs/ca.pem), data. */
  dataDir: string;
  /** Address the set-side listeners bind to. */
  host: string;
  /** Address sets are told to use (SIP, SDP, certificate); default --host, or 127.0.0.1 for 0.0.0.0. */
  publicAddress?: string;
  /** The site's LAN: where the pbx (SIP and API) and the gateway's pbx side listen; default 127.0.0.2. */
  internalHost: string;
  /** Where the gateway's admin pages listen; default --internal-host. */
  adminHost?: string;
  /** Load-test subscribers besides the demo ones. */
  users: number;
  /** Write a SIPp injection file for all users here. */
  csv?: string;
  /** Numbers starting with 0 go to this SIP trunk (host:port); used by the pbx role. */
  trunk?: string;
  /** Log every SIP message. */
  sipTrace: boolean;
  /** --white-list CIDR (repeatable): sources the gateway never counts or blocks (a load generator). */
  whiteList: string[];
  /** --media-network CIDR (repeatable): networks a set's media may come from besides its signalling address (media.trustedNetworks). */
  mediaNetworks: string[];
  /** --help: print the usage and stop. */
  help?: boolean;
}

export class LabOptionError extends Error {}

export const LAB_USAGE = `usage: npm run lab -- [--data DIR] [--host ADDR] [--public-address ADDR] [--internal-host ADDR] [--admin-host ADDR]
                      [--users N] [--csv PATH] [--trunk HOST:PORT] [--white-list CIDR]...
                      [--media-network CIDR]... [--sip-trace]`;

const ADDRESS = /^[0-9A-Za-z.:_-]+$/;

export function parseLabArgs(argv: string[]): LabOptions {
  const options: LabOptions = { dataDir: '.lab', host: '127.0.0.1', internalHost: '127.0.0.2', users: 0, sipTrace: false, whiteList: [], mediaNetworks: [] };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let inline: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new LabOptionError(`${flag} needs a value\n${LAB_USAGE}`);
      return v;
    };
    const address = (): string => {
      const v = value();
      if (!ADDRESS.test(v)) throw new LabOptionError(`${flag} takes an IP address or host name, not "${v}"`);
      return v;
    };
    switch (flag) {
      case '--data': options.dataDir = value(); break;
      case '--host': options.host = address(); break;
      case '--public-address': options.publicAddress = address(); break;
      case '--internal-host': {
        const v = address();
        if (v === '0.0.0.0' || v === '::') throw new LabOptionError(`--internal-host is one address of the site's LAN (e.g. 127.0.0.2), not "${v}"`);
        options.internalHost = v;
        break;
      }
      case '--admin-host': options.adminHost = address(); break;
      case '--users': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 100_000) throw new LabOptionError(`--users takes a whole number from 0 to 100000, not "${v}"`);
        options.users = Number(v);
        break;
      }
      case '--csv': options.csv = value(); break;
      case '--trunk': {
        const v = value();
        if (!/^[^:\s]+:\d{1,5}$/.test(v)) throw new LabOptionError(`--trunk takes HOST:PORT (e.g. 127.0.0.1:5090), not "${v}"`);
        options.trunk = v;
        break;
      }
      case '--white-list': case '--media-network': {
        const v = value();
        try {
          parseCidr(v);
        } catch (e) {
          throw new LabOptionError(`${flag} takes an address block such as 127.0.0.1/32: ${(e as Error).message}`);
        }
        (flag === '--white-list' ? options.whiteList : options.mediaNetworks).push(v);
        break;
      }
      case '--sip-trace': options.sipTrace = true; break;
      case '--help': case '-h': options.help = true; break;
      default: throw new LabOptionError(`unknown flag "${flag}"\n${LAB_USAGE}`);
    }
  }
  if (options.host === options.internalHost) {
    throw new LabOptionError(`--host and --internal-host are both ${options.host}: the pbx must sit on an address the sets' listeners do not share (its own loopback address, as a real PBX sits on the LAN)`);
  }
  return options;
}
