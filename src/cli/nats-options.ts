/** The NATS connection flags shared by `tpslab overseer` and `tpslab beacon`. */
import type { Command } from 'commander';
import type { NatsOptions } from '../transport/nats-connect.js';

export interface NatsFlags {
  nats: string;
  natsUser?: string;
  natsPass?: string;
  natsToken?: string;
  nkeySeed?: string;
  creds?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function addNatsOptions(cmd: Command): Command {
  return cmd
    .option('--nats-user <user>', 'NATS user name (with --nats-pass); or in the URL, nats://user:pass@host:4222')
    .option('--nats-pass <password>', 'NATS password (env TPSLAB_NATS_PASS keeps it off the command line)', process.env.TPSLAB_NATS_PASS)
    .option('--nats-token <token>', 'NATS token (env TPSLAB_NATS_TOKEN)', process.env.TPSLAB_NATS_TOKEN)
    .option('--nkey-seed <file>', 'file holding the nkey seed (SU…) this process authenticates with')
    .option('--creds <file>', 'NATS credentials file (user JWT and nkey seed)')
    .option('--tls-ca <file>', 'CA certificate that signed the NATS server certificate (use tls:// URLs)')
    .option('--tls-cert <file>', 'client certificate, when the server requires mutual TLS')
    .option('--tls-key <file>', 'key of the client certificate');
}

export function natsOptions(o: NatsFlags): NatsOptions {
  return {
    url: o.nats,
    ...(o.natsUser !== undefined ? { user: o.natsUser, pass: o.natsPass ?? '' } : {}),
    ...(o.natsToken !== undefined ? { token: o.natsToken } : {}),
    ...(o.nkeySeed ? { nkeySeed: o.nkeySeed } : {}),
    ...(o.creds ? { creds: o.creds } : {}),
    ...(o.tlsCa ? { tlsCa: o.tlsCa } : {}),
    ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
    ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
  };
}
