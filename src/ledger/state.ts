/**
 * The deterministic ledger state machine: accounts (balance, nonce) and topics
 * (next sequence number). Executing the same transactions in the same order
 * from the same genesis gives the same state hash on every process.
 *
 * Rules:
 * - The sender (first input of a transfer, `from` otherwise) must exist, its
 *   nonce must equal the account's nonce, and it pays `fee` (>= minFee), which
 *   is burned. A successful transaction increments the sender's nonce.
 * - transfer: inputs are distinct existing accounts with amount > 0; outputs
 *   have amount > 0; inputs and outputs sum to the same total. Outputs to an
 *   unknown address create that account.
 * - create-account: the new account must not exist; it starts at balance 0.
 * - create-topic: the topic must not exist. message: the topic must exist and
 *   the message gets the topic's next sequence number.
 * A transaction that breaks a rule changes nothing.
 *
 * State hash after block h = SHA-256(state hash before ‖ h ‖ every account and
 * topic the block wrote, sorted by key, with its new value).
 */
import { createHash } from 'node:crypto';
import { TpslabError } from '../errors.js';
import { encodeAddress } from '../protocol/address.js';
import { ByteWriter } from '../protocol/bytes.js';
import { senderOf, type SignedTx, type TxBody } from '../protocol/tx.js';
import type { Genesis } from './genesis.js';

export interface AccountState {
  balance: bigint;
  nonce: bigint;
}

export interface TopicState {
  nextSeq: bigint;
  owner: Buffer;
}

/** What executing a transaction produced beyond balances. */
export interface TxEffect {
  /** For messages: the topic and the sequence number the message got. */
  topic?: string;
  seq?: bigint;
}

const U64_MAX = (1n << 64n) - 1n;
/** The effect of every transaction but a message: one shared, frozen object, not one per transaction. */
const NO_EFFECT: TxEffect = Object.freeze({});

export function accountKey(account: Buffer): string {
  return account.toString('latin1');
}

/** Checks that need no state: run once at ingress, before a signature is even verified. */
export function checkStatic(body: TxBody, genesis: Genesis): void {
  if (body.fee < genesis.minFee) {
    throw new TpslabError('TPSLAB_E_FEE_TOO_LOW', `fee ${body.fee} is below the network minimum ${genesis.minFee}`);
  }
  switch (body.kind) {
    case 'transfer': {
      let inTotal = 0n;
      let outTotal = 0n;
      // Runs for every transaction on every process: no Set (nor key strings) for the usual single input.
      const seen = body.inputs.length > 1 ? new Set<string>() : undefined;
      for (let i = 0; i < body.inputs.length; i++) {
        const e = body.inputs[i]!;
        if (e.amount === 0n) throw new TpslabError('TPSLAB_E_INVALID_TX', `inputs[${i}].amount must be greater than 0`);
        if (seen) {
          const k = accountKey(e.account);
          if (seen.has(k)) throw new TpslabError('TPSLAB_E_INVALID_TX', `inputs[${i}].account ${encodeAddress(e.account)} appears twice; merge the amounts into one input`);
          seen.add(k);
        }
        inTotal += e.amount;
      }
      for (let i = 0; i < body.outputs.length; i++) {
        const e = body.outputs[i]!;
        if (e.amount === 0n) throw new TpslabError('TPSLAB_E_INVALID_TX', `outputs[${i}].amount must be greater than 0`);
        outTotal += e.amount;
      }
      if (inTotal !== outTotal) {
        throw new TpslabError('TPSLAB_E_INVALID_TX', `inputs sum to ${inTotal} but outputs sum to ${outTotal}; they must be equal (the fee is separate)`);
      }
      if (outTotal > U64_MAX) throw new TpslabError('TPSLAB_E_INVALID_TX', 'total amount exceeds 2^64-1');
      break;
    }
    case 'message':
      if (body.payload.length > genesis.maxPayloadBytes) {
        throw new TpslabError('TPSLAB_E_TOO_LARGE', `payload is ${body.payload.length} bytes; this network allows at most ${genesis.maxPayloadBytes}`);
      }
      break;
    case 'create-account':
    case 'create-topic':
      break;
  }
}

const firstCharEnds = new Uint32Array(257);

/**
 * The keys in ascending order, as `[...keys].sort()` gives them: sealing sorts every account a block
 * wrote. Account keys are random bytes, so one counting pass by first character leaves buckets of a few
 * keys, finished by insertion; a bucket larger than 16 (keys sharing a first byte) is sorted as usual.
 */
export function sortedKeys(keys: ReadonlySet<string>): string[] {
  const n = keys.size;
  const out = new Array<string>(n);
  const ends = firstCharEnds;
  ends.fill(0);
  for (const k of keys) {
    const c = k.charCodeAt(0);
    if (!(c < 256)) return [...keys].sort(); // an empty key, or one that is not latin1
    ends[c + 1]!++;
  }
  for (let c = 1; c < 257; c++) ends[c]! += ends[c - 1]!;
  for (const k of keys) out[ends[k.charCodeAt(0)]!++] = k; // ends[c] is now where bucket c ends
  let start = 0;
  for (let c = 0; c < 256; c++) {
    const end = ends[c]!;
    if (end - start > 16) {
      const sorted = out.slice(start, end).sort();
      for (let i = start; i < end; i++) out[i] = sorted[i - start]!;
    } else {
      for (let i = start + 1; i < end; i++) {
        const k = out[i]!;
        let j = i - 1;
        while (j >= start && out[j]! > k) {
          out[j + 1] = out[j]!;
          j--;
        }
        out[j + 1] = k;
      }
    }
    start = end;
  }
  return out;
}

export class LedgerState {
  private readonly accounts = new Map<string, AccountState>();
  private readonly topics = new Map<string, TopicState>();
  private readonly dirtyAccounts = new Set<string>();
  private readonly dirtyTopics = new Set<string>();
  height = 0;
  headHash: Buffer;
  stateHash: Buffer;
  feesBurned = 0n;

  constructor(readonly genesis: Genesis) {
    for (const a of genesis.accounts) this.accounts.set(accountKey(a.account), { balance: a.balance, nonce: 0n });
    this.headHash = genesis.hash;
    this.stateHash = createHash('sha256').update('tpslab/state/v1').update(genesis.hash).digest();
  }

  get accountCount(): number {
    return this.accounts.size;
  }

  getAccount(account: Buffer): Readonly<AccountState> | undefined {
    return this.accounts.get(accountKey(account));
  }

  /** The same, by the account's key (`accountKey`) when the caller has made it already. */
  accountByKey(key: string): Readonly<AccountState> | undefined {
    return this.accounts.get(key);
  }

  getTopic(name: string): Readonly<TopicState> | undefined {
    return this.topics.get(name);
  }

  /**
   * Executes one transaction; throws a coded error and changes nothing if it breaks a rule.
   * `senderKey`: `accountKey(senderOf(tx.body))` when the caller has made it already (the mempool has).
   */
  execute(tx: SignedTx, senderKey?: string): TxEffect {
    const body = tx.body;
    checkStatic(body, this.genesis);
    const sender = senderOf(body);
    senderKey ??= accountKey(sender);
    const s = this.accounts.get(senderKey);
    if (!s) throw new TpslabError('TPSLAB_E_UNKNOWN_ACCOUNT', `sender ${encodeAddress(sender)} does not exist; fund it first`);
    if (body.nonce !== s.nonce) {
      throw new TpslabError(
        body.nonce < s.nonce ? 'TPSLAB_E_NONCE_TOO_LOW' : 'TPSLAB_E_NONCE_TOO_HIGH',
        `nonce ${body.nonce} for ${encodeAddress(sender)}, whose next nonce is ${s.nonce}`,
        { details: { expectedNonce: s.nonce.toString() } },
      );
    }
    let effect: TxEffect = NO_EFFECT;
    switch (body.kind) {
      case 'transfer': {
        // Check every input before touching anything. Input 0 is the sender (already looked up).
        const inputs = body.inputs;
        for (let i = 0; i < inputs.length; i++) {
          const e = inputs[i]!;
          const acc = i === 0 ? s : this.accounts.get(accountKey(e.account));
          if (!acc) throw new TpslabError('TPSLAB_E_UNKNOWN_ACCOUNT', `inputs[${i}].account ${encodeAddress(e.account)} does not exist`);
          const need = i === 0 ? e.amount + body.fee : e.amount;
          if (acc.balance < need) {
            throw new TpslabError('TPSLAB_E_INSUFFICIENT_FUNDS', `inputs[${i}] needs ${need}${i === 0 ? ' (amount + fee)' : ''} but ${encodeAddress(e.account)} holds ${acc.balance}`);
          }
        }
        s.balance -= inputs[0]!.amount + body.fee;
        for (let i = 1; i < inputs.length; i++) {
          const k = accountKey(inputs[i]!.account);
          this.accounts.get(k)!.balance -= inputs[i]!.amount;
          this.dirtyAccounts.add(k);
        }
        for (const e of body.outputs) {
          const k = accountKey(e.account);
          const acc = this.accounts.get(k);
          if (acc) acc.balance += e.amount;
          else this.accounts.set(k, { balance: e.amount, nonce: 0n });
          this.dirtyAccounts.add(k);
        }
        break;
      }
      case 'create-account': {
        this.requireFee(s, sender, body.fee);
        const k = accountKey(body.account);
        if (this.accounts.has(k)) throw new TpslabError('TPSLAB_E_ACCOUNT_EXISTS', `account ${encodeAddress(body.account)} already exists`);
        s.balance -= body.fee;
        this.accounts.set(k, { balance: 0n, nonce: 0n });
        this.dirtyAccounts.add(k);
        break;
      }
      case 'create-topic': {
        this.requireFee(s, sender, body.fee);
        if (this.topics.has(body.topic)) throw new TpslabError('TPSLAB_E_TOPIC_EXISTS', `topic "${body.topic}" already exists`);
        s.balance -= body.fee;
        // A copy: `sender` may be a view into a whole block's bytes (decodeBlock(bytes, owned)), which the state outlives.
        this.topics.set(body.topic, { nextSeq: 0n, owner: Buffer.from(sender) });
        this.dirtyTopics.add(body.topic);
        break;
      }
      case 'message': {
        this.requireFee(s, sender, body.fee);
        const t = this.topics.get(body.topic);
        if (!t) throw new TpslabError('TPSLAB_E_UNKNOWN_TOPIC', `topic "${body.topic}" does not exist; create it with a create-topic transaction`);
        s.balance -= body.fee;
        effect = { topic: body.topic, seq: t.nextSeq };
        t.nextSeq += 1n;
        this.dirtyTopics.add(body.topic);
        break;
      }
    }
    s.nonce += 1n;
    this.feesBurned += body.fee;
    this.dirtyAccounts.add(senderKey);
    return effect;
  }

  private requireFee(s: AccountState, sender: Buffer, fee: bigint): void {
    if (s.balance < fee) throw new TpslabError('TPSLAB_E_INSUFFICIENT_FUNDS', `fee ${fee} exceeds the balance ${s.balance} of ${encodeAddress(sender)}`);
  }

  /**
   * Closes block `height`: folds everything written since the last seal into
   * the state hash, and records the block as the head.
   */
  seal(height: number): Buffer {
    const w = new ByteWriter(64 + this.dirtyAccounts.size * 48 + this.dirtyTopics.size * 80);
    w.bytes(this.stateHash).u64(BigInt(height));
    for (const k of sortedKeys(this.dirtyAccounts)) {
      const a = this.accounts.get(k)!;
      w.latin1(k).u64(a.balance).u64(a.nonce);
    }
    for (const name of [...this.dirtyTopics].sort()) {
      const t = this.topics.get(name)!;
      const nb = Buffer.from(name, 'latin1');
      w.u8(nb.length).bytes(nb).u64(t.nextSeq);
    }
    this.dirtyAccounts.clear();
    this.dirtyTopics.clear();
    this.stateHash = createHash('sha256').update(w.finish()).digest();
    this.height = height;
    return this.stateHash;
  }

  setHead(hash: Buffer): void {
    this.headHash = hash;
  }

  /** Every account and topic, for a snapshot (call between blocks: right after seal). */
  entries(): { accounts: ReadonlyMap<string, Readonly<AccountState>>; topics: ReadonlyMap<string, Readonly<TopicState>> } {
    return { accounts: this.accounts, topics: this.topics };
  }

  /** Replaces the whole state with a snapshot's, as of block `height`. */
  restore(s: { height: number; headHash: Buffer; stateHash: Buffer; feesBurned: bigint; accounts: Map<string, AccountState>; topics: Map<string, TopicState> }): void {
    this.accounts.clear();
    for (const [k, a] of s.accounts) this.accounts.set(k, a);
    this.topics.clear();
    for (const [k, t] of s.topics) this.topics.set(k, t);
    this.dirtyAccounts.clear();
    this.dirtyTopics.clear();
    this.height = s.height;
    this.headHash = s.headHash;
    this.stateHash = s.stateHash;
    this.feesBurned = s.feesBurned;
  }
}
