/**
 * Every answer the node gives carries a tpslab code: our own refusals, the
 * framework's (body parsing, limits, bad URLs, over-long path parameters) and
 * the HTTP parser's (a header block over the limit), mapped to coded JSON.
 */
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TpslabError, type ErrorCode } from '../errors.js';

/** Seconds a client should wait before retrying when the node is full or busy. */
export const RETRY_AFTER_SECONDS = 1;

/** Writes `{ error }` with the code's HTTP status (or `status`), plus Retry-After for load refusals. */
export function sendError(reply: FastifyReply, err: TpslabError, status = err.httpStatus): FastifyReply {
  if (err.code === 'TPSLAB_E_MEMPOOL_FULL') reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply.code(status).send({ error: err.toJSON() });
}

interface FrameworkError {
  statusCode?: number;
  code?: string;
  message: string;
}

/** Maps fastify's own errors (body parsing, limits, URLs) to our codes; `status` is the HTTP status to answer with. */
export function fromFramework(err: FrameworkError): { error: TpslabError; status: number } {
  if (err instanceof TpslabError) return { error: err, status: err.httpStatus };
  const status = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return { error: new TpslabError('TPSLAB_E_TOO_LARGE', 'a path parameter is longer than 100 characters; no id, address, height or topic name is that long'), status: 414 };
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    return { error: new TpslabError('TPSLAB_E_BAD_REQUEST', 'the URL path has a malformed %-escape; encode path parameters with encodeURIComponent'), status: 400 };
  }
  let code: ErrorCode = 'TPSLAB_E_INTERNAL';
  if (status === 413) code = 'TPSLAB_E_TOO_LARGE';
  else if (err.code?.includes('JSON') || err instanceof SyntaxError) code = 'TPSLAB_E_BAD_JSON';
  else if (status >= 400 && status < 500) code = 'TPSLAB_E_BAD_REQUEST';
  const hint = status === 415 ? ' (send application/json for one transaction, application/octet-stream for binary)' : '';
  const error = new TpslabError(code, `${err.message}${hint}`, { cause: err });
  return { error, status: error.httpStatus };
}

/** fastify's `frameworkErrors` option: errors raised before routing (bad URL, path parameter too long). */
export function frameworkErrors(err: FrameworkError, _req: FastifyRequest, reply: FastifyReply): void {
  const { error, status } = fromFramework(err);
  void sendError(reply, error, status);
}

/**
 * fastify's `clientErrorHandler`: errors of the HTTP parser, before any
 * request exists. A header block over Node's limit (e.g. a 60 KB URL) gets a
 * 431 with a coded JSON body; anything else malformed a 400.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let error = new TpslabError('TPSLAB_E_BAD_REQUEST', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`);
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    error = new TpslabError('TPSLAB_E_TOO_LARGE', 'the request line and headers exceed 16 KiB; shorten the URL (no tpslab route needs a long one) or the headers');
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    error = new TpslabError('TPSLAB_E_TIMEOUT', 'the request was not received in time');
  }
  const body = JSON.stringify({ error: error.toJSON() });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Stop draining a refused body after this many bytes in all. */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
/** ... or when the client has sent nothing for this long. */
const DRAIN_IDLE_MS = 1000;

/**
 * Reads and discards the rest of a request body the node refused (too large),
 * so the client finishes sending and then reads the answer instead of meeting
 * a closed connection (EPIPE). Bounded: a declared length over DRAIN_MAX_BYTES
 * is not drained, nor more than that in all, nor past DRAIN_IDLE_MS of silence.
 */
export function drainBody(req: FastifyRequest): Promise<void> {
  const raw = req.raw;
  const declared = Number(req.headers['content-length']);
  if (raw.complete || raw.destroyed || (Number.isFinite(declared) && declared > DRAIN_MAX_BYTES)) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    let timer = setTimeout(finish, DRAIN_IDLE_MS);
    function finish(): void {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('error', finish);
      raw.off('close', finish);
      resolve();
    }
    function onData(chunk: Buffer): void {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) return finish();
      clearTimeout(timer);
      timer = setTimeout(finish, DRAIN_IDLE_MS);
    }
    raw.on('data', onData);
    raw.once('end', finish);
    raw.once('error', finish);
    raw.once('close', finish);
    raw.resume();
  });
}
