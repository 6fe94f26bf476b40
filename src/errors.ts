/**
 * Every failure tpslab reports has a stable code, listed here and in docs/errors.md
 * (a test keeps the two in step). A code never changes meaning once released.
 *
 * `httpStatus` is what the node API answers with; `retryable` tells clients
 * (beacons, `tpslab tx send`) whether the same transaction may be sent again.
 */
export interface ErrorSpec {
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly summary: string;
}

export const ERROR_SPECS = {
  // --- decoding and validation of transactions (caller's mistakes) ---
  TPSLAB_E_DECODE: { httpStatus: 400, retryable: false, summary: 'The bytes are not a well-formed transaction or block.' },
  TPSLAB_E_OLD_FORMAT: { httpStatus: 400, retryable: false, summary: 'Data in a format an older tpslab wrote (transaction version 1, whose id covered the signatures; dataset format 1, signed records): sign again, start the node on a fresh data directory, or prepare the dataset again.' },
  TPSLAB_E_BAD_JSON: { httpStatus: 400, retryable: false, summary: 'The request body is not valid JSON or does not match the expected shape.' },
  TPSLAB_E_BAD_ADDRESS: { httpStatus: 400, retryable: false, summary: 'An account address is malformed or its checksum is wrong.' },
  TPSLAB_E_BAD_SIGNATURE: { httpStatus: 400, retryable: false, summary: 'A signature does not verify for the account that should have signed.' },
  TPSLAB_E_TOO_LARGE: { httpStatus: 413, retryable: false, summary: 'A transaction, payload or request exceeds a configured size limit.' },
  TPSLAB_E_INVALID_TX: { httpStatus: 400, retryable: false, summary: 'The transaction is well-formed but breaks a ledger rule (zero amount, duplicate input, ...).' },
  TPSLAB_E_NONCE_TOO_LOW: { httpStatus: 409, retryable: false, summary: "The nonce was already used by this sender; fetch the account's nonce and sign again." },
  TPSLAB_E_NONCE_TOO_HIGH: { httpStatus: 409, retryable: false, summary: 'The nonce is further ahead of the account than the node buffers.' },
  TPSLAB_E_INSUFFICIENT_FUNDS: { httpStatus: 409, retryable: false, summary: 'An input spends more than its account holds (amount plus fee for the sender).' },
  TPSLAB_E_UNKNOWN_ACCOUNT: { httpStatus: 404, retryable: false, summary: 'The account does not exist on the ledger.' },
  TPSLAB_E_ACCOUNT_EXISTS: { httpStatus: 409, retryable: false, summary: 'create-account names an account that already exists.' },
  TPSLAB_E_UNKNOWN_TOPIC: { httpStatus: 404, retryable: false, summary: 'The message names a topic that has not been created.' },
  TPSLAB_E_TOPIC_EXISTS: { httpStatus: 409, retryable: false, summary: 'create-topic names a topic that already exists.' },
  TPSLAB_E_NONCE_PENDING: { httpStatus: 409, retryable: false, summary: 'Another transaction with this nonce from this sender is already pending.' },
  TPSLAB_E_DUPLICATE: { httpStatus: 409, retryable: false, summary: 'The same transaction (same id) is already pending or committed.' },
  TPSLAB_E_FEE_TOO_LOW: { httpStatus: 400, retryable: false, summary: "The fee is below the network's minimum fee." },
  TPSLAB_E_WRONG_NETWORK: { httpStatus: 400, retryable: false, summary: 'The transaction or genesis belongs to a different network.' },
  // --- expiry while buffered ---
  TPSLAB_E_NONCE_GAP_EXPIRED: { httpStatus: 409, retryable: false, summary: 'A future-nonce transaction waited too long for the missing nonces and was dropped.' },
  TPSLAB_E_DEPS_EXPIRED: { httpStatus: 409, retryable: false, summary: 'A transaction waited too long for its causal dependencies and was dropped.' },
  TPSLAB_E_PREDECESSOR_FAILED: { httpStatus: 409, retryable: false, summary: "An earlier nonce from the same sender failed, expired or was refused at admission, so this one cannot run; send that nonce again, or re-sign from the account's nonce." },
  // --- load and availability (retry the same transaction) ---
  TPSLAB_E_PREDECESSOR_REFUSED: { httpStatus: 429, retryable: true, summary: 'An earlier nonce from the same sender was refused for capacity (MEMPOOL_FULL) while this one waited for it, so this one was dropped; send the same transaction again after that nonce.' },
  TPSLAB_E_MEMPOOL_FULL: { httpStatus: 429, retryable: true, summary: 'The node is at capacity; retry after the Retry-After header.' },
  TPSLAB_E_UNAVAILABLE: { httpStatus: 503, retryable: true, summary: 'The node cannot accept work right now (starting, stopping, or its log failed).' },
  TPSLAB_E_TIMEOUT: { httpStatus: 504, retryable: true, summary: 'An operation did not finish within its deadline.' },
  TPSLAB_E_NOT_LEADER: { httpStatus: 503, retryable: true, summary: 'This sequencer is a follower (replicated ordering, --nats): send to the leader it names, or retry.' },
  // --- API and CLI ---
  TPSLAB_E_NOT_FOUND: { httpStatus: 404, retryable: false, summary: 'The requested route, block or transaction does not exist.' },
  TPSLAB_E_BAD_REQUEST: { httpStatus: 400, retryable: false, summary: 'A request parameter is missing or malformed.' },
  TPSLAB_E_USAGE: { httpStatus: 400, retryable: false, summary: 'A command-line argument or option is missing or invalid.' },
  TPSLAB_E_CONFIG: { httpStatus: 400, retryable: false, summary: 'A configuration or genesis file is unreadable or invalid.' },
  TPSLAB_E_KEY_FILE: { httpStatus: 400, retryable: false, summary: 'A key file is missing, unreadable or malformed.' },
  TPSLAB_E_LOG_CORRUPT: { httpStatus: 500, retryable: false, summary: 'The block log is damaged before its tail and cannot be recovered automatically.' },
  TPSLAB_E_DATA_DIR: { httpStatus: 500, retryable: false, summary: 'The data directory is unusable (locked by another process, or unwritable), or its transaction index was found damaged while running (the process exits; start it again: the index is rebuilt from the block log).' },
  TPSLAB_E_REMOTE: { httpStatus: 502, retryable: true, summary: 'A remote node answered with an error that is not one of ours, or not at all.' },
  // --- infrastructure: faucet, indexer, load balancer ---
  TPSLAB_E_RATE_LIMITED: { httpStatus: 429, retryable: true, summary: "The faucet's limit per client, per account or its budget for the window is used up; retry after the Retry-After header." },
  TPSLAB_E_REQUEST_ID_REUSED: { httpStatus: 409, retryable: false, summary: 'A faucet request id was sent again with a different address or amount; use a new id for a new request.' },
  TPSLAB_E_FAUCET_PAYMENT: { httpStatus: 502, retryable: false, summary: "The faucet's transfer for this request failed on the ledger (e.g. the faucet ran dry); the grant does not count against limits." },
  TPSLAB_E_INDEX_CONTINUITY: { httpStatus: 500, retryable: false, summary: 'The indexer received a block that does not follow the last one it indexed (wrong height or previous hash); it stops rather than index a gap or a fork.' },
  TPSLAB_E_FORBIDDEN: { httpStatus: 403, retryable: false, summary: 'An admin route (e.g. drain) was called from an address other than loopback.' },
  TPSLAB_E_HAPROXY: { httpStatus: 500, retryable: false, summary: 'HAProxy could not be started, rejected the generated configuration, or its runtime API did not answer.' },
  // --- harness ---
  TPSLAB_E_SCENARIO: { httpStatus: 400, retryable: false, summary: 'The scenario file is unreadable, not YAML, or a field is invalid; the message names the field and what is valid.' },
  TPSLAB_E_THRESHOLD: { httpStatus: 400, retryable: false, summary: 'A threshold expression cannot be parsed or names an unknown metric.' },
  TPSLAB_E_DATASET: { httpStatus: 400, retryable: false, summary: 'A blk*.dat input or a dataset file is missing, truncated or malformed, or a preparation cannot continue; the message names the file and byte offset.' },
  TPSLAB_E_TRACE: { httpStatus: 400, retryable: false, summary: 'A trace file for the trace load profile is unreadable or has a bad row.' },
  TPSLAB_E_STORE: { httpStatus: 500, retryable: false, summary: 'The results database cannot be opened, migrated or written, or the requested run is not in it.' },
  TPSLAB_E_BEACON: { httpStatus: 500, retryable: false, summary: 'A beacon failed, stopped reporting, or sent a message the overseer could not accept.' },
  TPSLAB_E_CONNECTOR: { httpStatus: 400, retryable: false, summary: 'target.kind names no connector, or the connector refused its configuration or cannot do what the scenario asks.' },
  TPSLAB_E_WIRE: { httpStatus: 400, retryable: false, summary: 'Bytes received over NATS are not a tpslab wire frame: not JSON, another wire version, bad base64, or a message that does not validate.' },
  TPSLAB_E_NATS: { httpStatus: 503, retryable: true, summary: 'The NATS server cannot be reached, the beacons did not join in time, or the overseer could not be reached.' },
  TPSLAB_E_PROVISION: { httpStatus: 500, retryable: false, summary: 'Accounts could not be created or funded before the run.' },
  TPSLAB_E_ABORTED: { httpStatus: 499, retryable: false, summary: 'The run was interrupted (SIGINT or SIGTERM) and recorded as aborted; what it measured so far is stored and reported.' },
  TPSLAB_E_EXPERIMENT: { httpStatus: 400, retryable: false, summary: 'A sweep or find-max file is invalid (a field, a grid path, a cell that is not a valid scenario); nothing was run.' },
  TPSLAB_E_INTERNAL: { httpStatus: 500, retryable: false, summary: 'A bug: something that should not happen did. Please report it with the log.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_SPECS;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_SPECS, code);
}

/** The one error type tpslab throws on purpose. `code` is stable; `message` says what and how to fix. */
export class TpslabError extends Error {
  override readonly name = 'TpslabError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  get httpStatus(): number {
    return ERROR_SPECS[this.code].httpStatus;
  }

  get retryable(): boolean {
    return ERROR_SPECS[this.code].retryable;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function tpslabError(code: ErrorCode, message: string, details?: Record<string, unknown>): TpslabError {
  return new TpslabError(code, message, details ? { details } : undefined);
}

/** Wraps anything thrown into a TpslabError, keeping coded errors as they are. */
export function asTpslabError(err: unknown, fallback: ErrorCode = 'TPSLAB_E_INTERNAL'): TpslabError {
  if (err instanceof TpslabError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TpslabError(fallback, message, { cause: err });
}
