/**
 * The commit store's hashing thread (a Piscina task): the set digest of the records in one byte
 * range of a commit store's file, so a beacon's event loop never hashes the ids it saw committed.
 * Ranges are hashed as the file grows; the store adds the parts up (the digest is a sum).
 */
import { closeSync, openSync } from 'node:fs';
import { hash } from 'node:crypto';
import { SetDigest, type DigestJson } from './set-digest.js';
import { readRecords } from './commit-records.js';

export interface HashTask {
  path: string;
  from: number;
  to: number;
}

export default function hashRange(t: HashTask): DigestJson {
  const d = new SetDigest();
  const fd = openSync(t.path, 'r');
  try {
    // The id's UTF-8 bytes as they are in the file: SHA-256 of them is hashOfId(id), without making a string.
    readRecords(fd, t.from, t.to, (buf, start, end) => void d.addHash(hash('sha256', buf.subarray(start, end), 'buffer')));
  } finally {
    closeSync(fd);
  }
  return d.toJson();
}
