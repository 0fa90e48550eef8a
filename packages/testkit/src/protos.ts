import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOS_DIR } from './corpora.js';

export interface ProtosFill {
  caseNumber: number;
  localPort: number;
  /** Only loopback: PROTOS placeholders name hosts, and we never send anywhere else. */
  address?: string;
}

/** The records of one case file: `<length> <message>` repeated, with no separator between them. */
export function readProtosRecords(file: string): Buffer[] {
  const data = readFileSync(join(PROTOS_DIR, 'cases', file));
  const out: Buffer[] = [];
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const length = Number(data.toString('latin1', i, space));
    if (!Number.isInteger(length) || length < 0) break;
    out.push(data.subarray(space + 1, space + 1 + length));
    i = space + 1 + length;
  }
  return out;
}

/** Fill the placeholders of one PROTOS message; Content-Length gets the real body length. */
export function fillProtos(template: Buffer, fill: ProtosFill, teardown = 'CANCEL'): Buffer {
  const host = fill.address ?? '127.0.0.1';
  const text = template.toString('latin1')
    .replaceAll('<To>', `receiver@${host}`)
    .replaceAll('<From>', `protos@${host}`)
    .replaceAll('<From-Address>', host)
    .replaceAll('<From-IP>', host)
    .replaceAll('<Local-Port>', String(fill.localPort))
    .replaceAll('<Branch-ID>', String(fill.caseNumber))
    .replaceAll('<Call-ID>', `protos-${fill.caseNumber}`)
    .replaceAll('<CSeq>', '1')
    .replaceAll('<Teardown-Method>', teardown);
  const split = text.indexOf('\r\n\r\n');
  const bodyLength = split < 0 ? 0 : Buffer.byteLength(text.slice(split + 4), 'latin1');
  return Buffer.from(text.replaceAll('<Content-Length>', String(bodyLength)), 'latin1');
}
