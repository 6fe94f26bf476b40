/** Making a file's data, or a directory's entries, durable: one way for every file the ledger writes. */
import { closeSync, fdatasyncSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** fdatasync of a file, or of a directory (its entries: a file just created or renamed into it). */
export async function datasyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** datasyncPath on the calling thread, for code that runs before serving (open, cutting a log). */
export function datasyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
