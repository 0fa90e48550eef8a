import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared beside the repository (where CI and sessions put it), or $PSI_SHARED. */
export const SHARED_DIR = process.env.PSI_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared');
export const RFC4475_DIR = join(SHARED_DIR, 'corpora/rfc4475');
export const PROTOS_DIR = join(SHARED_DIR, 'corpora/protos-c07-sip');

export function corpusAvailable(dir: string): boolean {
  const ok = existsSync(dir);
  if (!ok) {
    // Loud on purpose: a skipped corpus suite must never pass for a green one.
    console.warn(`\n*** SKIPPED: corpus ${dir} is absent (set PSI_SHARED to the shared/ folder) ***\n`);
  }
  return ok;
}

export interface TortureCase {
  file: string;
  section: string;
  kind: 'valid' | 'invalid' | 'semantic';
  expectation: string;
  data: Buffer;
}

export function tortureCases(): TortureCase[] {
  const rows = readFileSync(join(RFC4475_DIR, 'EXPECTED.tsv'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  return rows.map((row) => {
    const [file, section, kind, expectation] = row.split('\t');
    return { file, section, kind: kind as TortureCase['kind'], expectation, data: readFileSync(join(RFC4475_DIR, file)) };
  });
}

export function protosCaseFiles(): string[] {
  return readdirSync(join(PROTOS_DIR, 'cases')).sort();
}
