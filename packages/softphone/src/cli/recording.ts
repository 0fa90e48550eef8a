import { open } from 'node:fs/promises';

/**
 * Wait until a call's recording is on disk whole. The media layer writes the WAV file once, when
 * the call's media closes, and does not say when it is done: a file is whole when its RIFF size
 * field accounts for every byte. `notBefore` (ms since the epoch) keeps a file an earlier run left
 * at the same path from passing for this call's.
 */
export async function waitForRecording(file: string, notBefore: number, timeoutMs = 3000, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isWholeWav(file, notBefore)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function isWholeWav(file: string, notBefore: number): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return false;
  }
  try {
    const { size, mtimeMs } = await handle.stat();
    // Whole seconds on some file systems: a second's grace.
    if (size < 44 || mtimeMs < notBefore - 1000) return false;
    const header = Buffer.alloc(12);
    await handle.read(header, 0, 12, 0);
    return header.toString('latin1', 0, 4) === 'RIFF' && header.toString('latin1', 8, 12) === 'WAVE' && header.readUInt32LE(4) + 8 === size;
  } finally {
    await handle.close();
  }
}

/** With `answer --calls K`, where call n's recording goes: FILE.wav, then FILE-2.wav, FILE-3.wav... */
export function recordingFileFor(file: string, n: number): string {
  if (n <= 1) return file;
  const dot = file.toLowerCase().endsWith('.wav') ? file.length - 4 : file.length;
  return `${file.slice(0, dot)}-${n}${file.slice(dot)}`;
}
