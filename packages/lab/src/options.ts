/** The flags of `npm run lab`, shared by every role the lab embeds. */
export interface LabOptions {
  /** Where everything the lab writes goes: certificates (CA at DIR/certs/ca.pem), data. */
  dataDir: string;
  /** Address every listener binds to. */
  host: string;
  /** Address sets are told to use (SIP, SDP, certificate); default --host, or 127.0.0.1 for 0.0.0.0. */
  publicAddress?: string;
  /** Load-test subscribers besides the demo ones. */
  users: number;
  /** Write a SIPp injection file for all users here. */
  csv?: string;
  /** Numbers starting with 0 go to this SIP trunk (host:port); used by the pbx role. */
  trunk?: string;
  /** Log every SIP message. */
  sipTrace: boolean;
}

export class LabOptionError extends Error {}

const USAGE = `usage: npm run lab -- [--data DIR] [--host ADDR] [--public-address ADDR] [--users N] [--csv PATH] [--trunk HOST:PORT] [--sip-trace]`;

export function parseLabArgs(argv: string[]): LabOptions {
  const options: LabOptions = { dataDir: '.lab', host: '127.0.0.1', users: 0, sipTrace: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new LabOptionError(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--data': options.dataDir = value(); break;
      case '--host': options.host = value(); break;
      case '--public-address': options.publicAddress = value(); break;
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
      case '--sip-trace': options.sipTrace = true; break;
      case '--help': case '-h': throw new LabOptionError(USAGE);
      default: throw new LabOptionError(`unknown flag "${flag}"\n${USAGE}`);
    }
  }
  return options;
}
