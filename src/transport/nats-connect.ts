/**
 * Connecting to NATS: the server URL(s) plus the security options every tpslab
 * NATS command takes (user/password, token, nkey seed file, credentials file,
 * TLS). Errors become TPSLAB_E_NATS with what to check.
 */
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { TpslabError } from '../errors.js';

export interface NatsOptions {
  /** Comma-separated server URLs (nats://host:4222, tls://host:4222). */
  url: string;
  user?: string;
  pass?: string;
  token?: string;
  /** File holding an nkey seed (SU…). */
  nkeySeed?: string;
  /** A .creds file (JWT and nkey seed). */
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Connection name shown by the server's monitoring. */
  name?: string;
}

export async function connectNats(o: NatsOptions): Promise<NatsConnection> {
  const opts: NodeConnectionOptions = {
    servers: o.url.split(',').map((s) => s.trim()).filter(Boolean),
    name: o.name ?? 'tpslab',
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...(o.user !== undefined ? { user: o.user, pass: o.pass ?? '' } : {}),
    ...(o.token !== undefined ? { token: o.token } : {}),
  };
  if (o.nkeySeed) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(Buffer.from(await readSecret(o.nkeySeed, '--nkey-seed')).toString('utf8').trim()));
  if (o.creds) opts.authenticator = credsAuthenticator(await readSecret(o.creds, '--creds'));
  if (o.tlsCa || o.tlsCert || o.tlsKey) {
    opts.tls = { ...(o.tlsCa ? { caFile: o.tlsCa } : {}), ...(o.tlsCert ? { certFile: o.tlsCert } : {}), ...(o.tlsKey ? { keyFile: o.tlsKey } : {}) };
  }
  try {
    return await connect(opts);
  } catch (err) {
    throw new TpslabError('TPSLAB_E_NATS', `cannot connect to NATS at ${o.url}: ${(err as Error).message}; check that nats-server runs there and the credentials and TLS options match its configuration (docs/harness.md, "Many machines")`, { cause: err });
  }
}

async function readSecret(file: string, flag: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new TpslabError('TPSLAB_E_USAGE', `${flag} ${file}: cannot read it (${(err as Error).message})`, { cause: err });
  }
}
