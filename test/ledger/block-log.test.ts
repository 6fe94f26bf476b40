import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { BlockLog } from '../../src/ledger/block-log.js';
import { TpslabError } from '../../src/errors.js';

async function tempLogPath(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tpslab-block-log-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  return join(dir, 'blocks.log');
}

function frame(payload: Buffer, crc = crc32(payload)): Buffer {
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32BE(0x54505342, 0);
  hdr.writeUInt32BE(payload.length, 4);
  hdr.writeUInt32BE(crc, 8);
  return Buffer.concat([hdr, payload]);
}

const rec = (i: number): Buffer => Buffer.from(`record-${i}-${'x'.repeat(i % 37)}`);

function hasCode(code: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof TpslabError, `expected TpslabError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

async function writeRecords(path: string, n: number): Promise<number> {
  const log = await BlockLog.open(path);
  for (let i = 0; i < n; i++) assert.equal(await log.append(rec(i)), i);
  const size = log.sizeBytes;
  await log.close();
  return size;
}

test('append + read round trip, and reopen', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  assert.deepEqual(log.recovery, { records: 0, truncatedBytes: 0 });
  assert.equal(await log.append(Buffer.from('hello')), 0);
  assert.equal(await log.append(Buffer.alloc(0)), 1);
  assert.equal(await log.append(Buffer.from('world')), 2);
  assert.equal(log.length, 3);
  assert.equal(log.version, 2);
  assert.equal(log.sizeBytes, 16 + 3 * 12 + 10 + 3 * 24); // header, frames, one commit marker per group
  assert.deepEqual(await log.read(0), Buffer.from('hello'));
  assert.deepEqual(await log.read(1), Buffer.alloc(0));
  assert.deepEqual(await log.read(2), Buffer.from('world'));
  await assert.rejects(log.read(3), hasCode('TPSLAB_E_NOT_FOUND'));
  await assert.rejects(log.read(-1), hasCode('TPSLAB_E_NOT_FOUND'));
  await assert.rejects(log.read(0.5), hasCode('TPSLAB_E_NOT_FOUND'));
  await log.close();
  await log.close(); // idempotent
  await assert.rejects(log.append(Buffer.from('late')), hasCode('TPSLAB_E_UNAVAILABLE'));
  await assert.rejects(log.read(0), hasCode('TPSLAB_E_UNAVAILABLE'));
  assert.equal((await stat(path)).size, 134);

  const again = await BlockLog.open(path);
  t.after(() => again.close());
  assert.deepEqual(again.recovery, { records: 3, truncatedBytes: 0 });
  assert.equal(again.length, 3);
  assert.deepEqual(await again.read(2), Buffer.from('world'));
  assert.equal(await again.append(Buffer.from('more')), 3);
  assert.deepEqual(await again.read(3), Buffer.from('more'));
});

test('500 concurrent appends get distinct, ordered indices and survive reopen', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  const n = 500;
  const indices = await Promise.all(Array.from({ length: n }, (_, i) => log.append(rec(i))));
  assert.deepEqual(indices, Array.from({ length: n }, (_, i) => i));
  assert.equal(log.length, n);
  // Appends issued while a batch is in flight are grouped too.
  const first = log.append(rec(n));
  const rest = Array.from({ length: 9 }, (_, i) => log.append(rec(n + 1 + i)));
  assert.deepEqual(await Promise.all([first, ...rest]), Array.from({ length: 10 }, (_, i) => n + i));
  await log.close();

  const again = await BlockLog.open(path);
  t.after(() => again.close());
  assert.deepEqual(again.recovery, { records: n + 10, truncatedBytes: 0 });
  for (let i = 0; i < n + 10; i++) assert.deepEqual(await again.read(i), rec(i));
});

test('readRange returns contiguous records', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  t.after(() => log.close());
  for (let i = 0; i < 20; i++) await log.append(rec(i));
  assert.deepEqual(await log.readRange(5, 12), Array.from({ length: 7 }, (_, i) => rec(5 + i)));
  assert.deepEqual(await log.readRange(0, 20), Array.from({ length: 20 }, (_, i) => rec(i)));
  assert.deepEqual(await log.readRange(19, 20), [rec(19)]);
  assert.deepEqual(await log.readRange(7, 7), []);
  await assert.rejects(log.readRange(10, 21), hasCode('TPSLAB_E_NOT_FOUND'));
  await assert.rejects(log.readRange(5, 4), hasCode('TPSLAB_E_NOT_FOUND'));
});

for (const [name, tail] of [
  ['garbage bytes', Buffer.from('this is not a frame at all')],
  ['a partial frame', frame(Buffer.alloc(100, 7)).subarray(0, 40)],
  ['a partial header', frame(Buffer.alloc(100, 7)).subarray(0, 6)],
  ['a frame with a bad CRC', frame(Buffer.from('payload'), 12345)],
] as const) {
  test(`torn tail (${name}) is truncated on open`, async (t) => {
    const path = await tempLogPath(t);
    const goodSize = await writeRecords(path, 5);
    await appendFile(path, tail);
    const log = await BlockLog.open(path);
    t.after(() => log.close());
    assert.deepEqual(log.recovery, { records: 5, truncatedBytes: tail.length });
    assert.equal(log.length, 5);
    assert.equal(log.sizeBytes, goodSize);
    assert.equal((await stat(path)).size, goodSize);
    for (let i = 0; i < 5; i++) assert.deepEqual(await log.read(i), rec(i));
    assert.equal(await log.append(Buffer.from('after')), 5);
    assert.deepEqual(await log.read(5), Buffer.from('after'));
  });
}

test('corruption in the middle of the log is refused with TPSLAB_E_LOG_CORRUPT', async (t) => {
  const path = await tempLogPath(t);
  await writeRecords(path, 3);
  const bytes = await readFile(path);
  bytes[16 + 12 + 2]! ^= 0xff; // a payload byte of record 0 (after the 16-byte file header)
  await writeFile(path, bytes);
  await assert.rejects(BlockLog.open(path), (err: unknown) => {
    hasCode('TPSLAB_E_LOG_CORRUPT')(err);
    const msg = (err as Error).message;
    assert.match(msg, /blocks\.log/);
    assert.match(msg, /offset 16\b/);
    assert.match(msg, /replica or backup/);
    return true;
  });
  assert.deepEqual(await readFile(path), bytes, 'the corrupt file is left untouched');
  // The failed open released its lock: a later open reports the same corruption, not a lock error.
  await assert.rejects(BlockLog.open(path), hasCode('TPSLAB_E_LOG_CORRUPT'));
});

test('oversize append is rejected with TPSLAB_E_TOO_LARGE', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  t.after(() => log.close());
  await assert.rejects(log.append(Buffer.alloc(64 * 1024 * 1024 + 1)), hasCode('TPSLAB_E_TOO_LARGE'));
  assert.equal(log.length, 0);
  assert.equal(await log.append(Buffer.from('ok')), 0);
});

test('a second open of the same path is rejected with TPSLAB_E_DATA_DIR', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  await assert.rejects(BlockLog.open(path), hasCode('TPSLAB_E_DATA_DIR'));
  await log.close();
  const again = await BlockLog.open(path); // lock released on close
  await again.close();
});

test('a lock left by a dead process is taken over', async (t) => {
  const path = await tempLogPath(t);
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(dead);
  await writeFile(`${path}.lock`, `${dead}\n`);
  const log = await BlockLog.open(path);
  t.after(() => log.close());
  assert.equal((await readFile(`${path}.lock`, 'utf8')).trim(), String(process.pid));
});

/** Test-only access to the log's file handle, to count or fail its fdatasync calls. */
function fileHandleOf(log: BlockLog): { datasync: () => Promise<void> } {
  return (log as unknown as { fh: { datasync: () => Promise<void> } }).fh;
}

test('group commit: appends queued behind an in-flight fsync share one write and one fdatasync', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  t.after(() => log.close());
  const fh = fileHandleOf(log);
  const original = fh.datasync.bind(fh);
  let syncs = 0;
  fh.datasync = () => { syncs++; return original(); };
  const first = log.append(rec(0));
  await new Promise((r) => setImmediate(r)); // first batch is now in flight
  const queued = Array.from({ length: 100 }, (_, i) => log.append(rec(i + 1)));
  assert.deepEqual(await Promise.all([first, ...queued]), Array.from({ length: 101 }, (_, i) => i));
  assert.ok(syncs <= 3, `expected at most 3 fdatasync calls for 101 appends, got ${syncs}`);
});

test('a failed fdatasync poisons the log: the batch and later appends reject with TPSLAB_E_UNAVAILABLE', async (t) => {
  const path = await tempLogPath(t);
  const log = await BlockLog.open(path);
  assert.equal(await log.append(rec(0)), 0);
  const boom = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
  fileHandleOf(log).datasync = () => Promise.reject(boom);
  const results = await Promise.allSettled([log.append(rec(1)), log.append(rec(2))]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    hasCode('TPSLAB_E_UNAVAILABLE')(r.reason);
    assert.equal((r.reason as Error).cause, boom);
  }
  await assert.rejects(log.append(rec(3)), hasCode('TPSLAB_E_UNAVAILABLE'));
  assert.equal(log.length, 1);
  assert.deepEqual(await log.read(0), rec(0)); // durable records stay readable
  await log.close();

  // The unacknowledged records did reach the file (only the fsync "failed"); reopening keeps them.
  const again = await BlockLog.open(path);
  t.after(() => again.close());
  assert.equal(again.length, 3);
});

/** Writes `groups` group commits: each group is `perGroup` appends issued together. Returns each group's end offset. */
async function writeGroups(path: string, groups: number, perGroup: number): Promise<number[]> {
  const log = await BlockLog.open(path);
  const ends: number[] = [];
  for (let g = 0; g < groups; g++) {
    await Promise.all(Array.from({ length: perGroup }, (_, i) => log.append(rec(g * perGroup + i))));
    ends.push(log.sizeBytes);
  }
  await log.close();
  return ends;
}

test('torn group: an OS crash that persisted a later page of the last group but not an earlier one recovers to the previous group', async (t) => {
  const path = await tempLogPath(t);
  const ends = await writeGroups(path, 3, 5);
  const bytes = await readFile(path);
  assert.equal(bytes.length, ends[2]);
  // The last group's first record never reached the disk (zeroed), its later records and marker did.
  bytes.fill(0, ends[1]! + 4, ends[1]! + 20);
  await writeFile(path, bytes);
  const log = await BlockLog.open(path);
  t.after(() => log.close());
  assert.deepEqual(log.recovery, { records: 10, truncatedBytes: ends[2]! - ends[1]! });
  assert.equal(log.sizeBytes, ends[1]);
  assert.equal((await stat(path)).size, ends[1]);
  for (let i = 0; i < 10; i++) assert.deepEqual(await log.read(i), rec(i));
  assert.equal(await log.append(Buffer.from('after')), 10);
  assert.deepEqual(await log.read(10), Buffer.from('after'));
});

test('torn group without its marker (only an earlier page persisted) is truncated too', async (t) => {
  const path = await tempLogPath(t);
  const ends = await writeGroups(path, 2, 4);
  const bytes = await readFile(path);
  await writeFile(path, bytes.subarray(0, ends[1]! - 24)); // the last group's records, no marker
  const log = await BlockLog.open(path);
  t.after(() => log.close());
  assert.equal(log.length, 4);
  assert.equal(log.sizeBytes, ends[0]);
});

test('mid-log corruption of an older, marked group is still refused with TPSLAB_E_LOG_CORRUPT', async (t) => {
  const path = await tempLogPath(t);
  const ends = await writeGroups(path, 3, 5);
  for (const [what, at] of [['a record', ends[0]! + 12 + 3], ['a commit marker', ends[1]! - 10]] as const) {
    const bytes = await readFile(path);
    bytes[at]! ^= 0xff; // damage inside the second group (of three)
    await writeFile(path, bytes);
    await assert.rejects(BlockLog.open(path), (err: unknown) => {
      hasCode('TPSLAB_E_LOG_CORRUPT')(err);
      assert.match((err as Error).message, new RegExp(`offset ${ends[0]}\\b`), what);
      return true;
    });
    assert.deepEqual(await readFile(path), bytes, 'the corrupt file is left untouched');
    bytes[at]! ^= 0xff;
    await writeFile(path, bytes);
  }
  const log = await BlockLog.open(path); // repaired: all three groups are back
  t.after(() => log.close());
  assert.equal(log.length, 15);
});

test('a version 1 log (no header, no commit markers) stays readable and appendable', async (t) => {
  const path = await tempLogPath(t);
  await writeFile(path, Buffer.concat([0, 1, 2].map((i) => frame(rec(i)))));
  const log = await BlockLog.open(path);
  assert.equal(log.version, 1);
  assert.equal(log.length, 3);
  for (let i = 0; i < 3; i++) assert.deepEqual(await log.read(i), rec(i));
  assert.equal(await log.append(rec(3)), 3);
  await log.close();
  const again = await BlockLog.open(path);
  t.after(() => again.close());
  assert.equal(again.version, 1);
  assert.equal(again.length, 4);
  assert.deepEqual(await again.read(3), rec(3));
  assert.equal((await stat(path)).size, 4 * 12 + [0, 1, 2, 3].reduce((n, i) => n + rec(i).length, 0));
});

test('open with a checkpoint walks the history by headers only, still cuts a torn last group, and reads check CRCs', async (t) => {
  const path = await tempLogPath(t);
  const first = await BlockLog.open(path);
  for (let i = 0; i < 6; i++) await first.append(rec(i));
  const checkpoint = first.checkpoint!;
  assert.deepEqual(checkpoint, { records: 6, bytes: first.sizeBytes });
  await Promise.all([6, 7, 8].map((i) => first.append(rec(i))));
  await Promise.all([9, 10].map((i) => first.append(rec(i))));
  await first.close();
  const bytes = await readFile(path);
  bytes[16 + 12 + 1]! ^= 0xff; // rot in record 0, before the checkpoint: not read at open
  const lastGroupAt = bytes.length - 2 * 12 - rec(9).length - rec(10).length - 24;
  bytes.fill(0, lastGroupAt + 2, lastGroupAt + 8); // torn last group
  await writeFile(path, bytes);
  const log = await BlockLog.open(path, { checkpoint });
  t.after(() => log.close());
  assert.equal(log.length, 9);
  assert.equal(log.sizeBytes, lastGroupAt);
  assert.deepEqual(await log.read(8), rec(8));
  await assert.rejects(log.read(0), hasCode('TPSLAB_E_LOG_CORRUPT'));
});

test('a checkpoint that does not fit the file is ignored and the whole log is scanned', async (t) => {
  const path = await tempLogPath(t);
  const ends = await writeGroups(path, 3, 2);
  for (const checkpoint of [{ records: 5, bytes: ends[1]! }, { records: 4, bytes: ends[1]! - 1 }, { records: 99, bytes: ends[2]! + 100 }]) {
    const log = await BlockLog.open(path, { checkpoint });
    assert.equal(log.length, 6, JSON.stringify(checkpoint));
    await log.close();
  }
});

test('saved frame offsets spare the open the header walk; offsets that do not fit are ignored', async (t) => {
  const path = await tempLogPath(t);
  const first = await BlockLog.open(path);
  for (let i = 0; i < 40; i++) await first.append(rec(i));
  const checkpoint = { ...first.checkpoint!, offsets: first.offsetsOf(40) };
  await Promise.all([40, 41].map((i) => first.append(rec(i))));
  await first.close();
  assert.equal(checkpoint.offsets.length, 40);
  assert.equal(checkpoint.offsets[0], 16, 'the first frame follows the file header');

  // Offsets off at a frame the open probes: not taken, the headers are walked.
  const wrong = Float64Array.from(checkpoint.offsets);
  wrong[2]! += 4;
  const walked = await BlockLog.open(path, { checkpoint: { ...checkpoint, offsets: wrong } });
  assert.equal(walked.length, 42);
  for (let i = 0; i < 42; i++) assert.deepEqual(await walked.read(i), rec(i));
  await walked.close();

  // A damaged frame header before the checkpoint (record 1: 16 of the 40 are probed, not that one):
  // the walk stops there and refuses the log; with the offsets the open reads no header there,
  // and reading that record finds the damage.
  const bytes = await readFile(path);
  bytes[checkpoint.offsets[1]!]! ^= 0xff;
  await writeFile(path, bytes);
  await assert.rejects(BlockLog.open(path, { checkpoint: { records: checkpoint.records, bytes: checkpoint.bytes } }), hasCode('TPSLAB_E_LOG_CORRUPT'));
  const log = await BlockLog.open(path, { checkpoint });
  t.after(() => log.close());
  assert.equal(log.length, 42);
  assert.deepEqual(await log.read(41), rec(41));
  assert.deepEqual(await log.read(2), rec(2));
  await assert.rejects(log.read(1), hasCode('TPSLAB_E_LOG_CORRUPT'));
});
