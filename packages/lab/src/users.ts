import { writeFileSync } from 'node:fs';

export interface LabUser {
  extension: string;
  name: string;
  email: string;
  password: string;
}

/** The documented demo users: the README's examples use them. */
export const DEMO_USERS: LabUser[] = [
  { extension: '1001', name: 'Alice Martin', email: 'alice@psi-lab.test', password: 'alice-1001' },
  { extension: '1002', name: 'Bob Durand', email: 'bob@psi-lab.test', password: 'bob-1002' },
  { extension: '1003', name: 'Carol Petit', email: 'carol@psi-lab.test', password: 'carol-1003' },
];

/** Load-test users 2000.. with predictable passwords (`load<extension>`), so a SIPp injection file can name them. */
export function loadTestUsers(count: number): LabUser[] {
  return Array.from({ length: count }, (_, i) => {
    const extension = String(2000 + i);
    return { extension, name: `Load ${extension}`, email: `load${extension}@psi-lab.test`, password: `load${extension}` };
  });
}

/** SIPp's injection format: `SEQUENTIAL`, then `user;password;extension` a line. */
export function writeSippCsv(path: string, users: LabUser[]): void {
  writeFileSync(path, ['SEQUENTIAL', ...users.map((u) => `${u.extension};${u.password};${u.extension}`)].join('\n') + '\n');
}
