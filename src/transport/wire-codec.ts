/**
 * The wire codec: messages between machines as bytes, with no dependence on
 * structured clone. A frame is UTF-8 JSON `{"w":1,"m":<message>}`; typed
 * arrays travel as `{"$f64":"<base64>"}` / `{"$u32":"<base64>"}` of their
 * little-endian bytes. Decoding checks the wire version, the base64 and the
 * message against a zod schema; anything else is a TPSLAB_E_WIRE error that
 * says what was wrong. Pure: no sockets (the NATS transport only moves frames).
 */
import { endianness } from 'node:os';
import type { z } from 'zod';
import { TpslabError } from '../errors.js';
import { describeZodError } from '../zod-errors.js';

export const WIRE_VERSION = 2;

const LITTLE_ENDIAN = endianness() === 'LE';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function typedToBase64(a: Float64Array | Uint32Array): string {
  const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN) return bytes.toString('base64');
  const copy = Buffer.from(bytes);
  return (a instanceof Float64Array ? copy.swap64() : copy.swap32()).toString('base64');
}

function base64ToTyped(kind: '$f64' | '$u32', text: unknown, where: string): Float64Array | Uint32Array {
  const width = kind === '$f64' ? 8 : 4;
  if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text)) {
    throw new TpslabError('TPSLAB_E_WIRE', `bad wire frame: ${where}.${kind} must be a base64 string`);
  }
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % width !== 0) throw new TpslabError('TPSLAB_E_WIRE', `bad wire frame: ${where}.${kind} holds ${bytes.length} bytes, not a multiple of ${width}`);
  // Copy into an aligned buffer of its own (a Buffer may sit at any offset of a shared pool).
  const own = new ArrayBuffer(bytes.length);
  const view = Buffer.from(own);
  bytes.copy(view);
  if (!LITTLE_ENDIAN) void (width === 8 ? view.swap64() : view.swap32());
  return kind === '$f64' ? new Float64Array(own) : new Uint32Array(own);
}

/** Encodes one message as a wire frame. */
export function encodeFrame(message: unknown): Uint8Array {
  const json = JSON.stringify({ w: WIRE_VERSION, m: message }, (_key, value: unknown) => {
    if (value instanceof Float64Array) return { $f64: typedToBase64(value) };
    if (value instanceof Uint32Array) return { $u32: typedToBase64(value) };
    return value;
  });
  return encoder.encode(json);
}

/** Decodes and validates one wire frame; `what` names the sender in errors ("a beacon", "the overseer"). */
export function decodeFrame<T>(bytes: Uint8Array, schema: z.ZodType<T>, what = 'the peer'): T {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (err) {
    throw new TpslabError('TPSLAB_E_WIRE', `bad wire frame from ${what}: not UTF-8 text`, { cause: err });
  }
  let frame: unknown;
  try {
    frame = JSON.parse(text, function (this: unknown, key: string, value: unknown) {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const keys = Object.keys(value);
        if (keys.length === 1 && (keys[0] === '$f64' || keys[0] === '$u32')) {
          return base64ToTyped(keys[0], (value as Record<string, unknown>)[keys[0]], key || 'frame');
        }
      }
      return value;
    });
  } catch (err) {
    if (err instanceof TpslabError) throw err;
    throw new TpslabError('TPSLAB_E_WIRE', `bad wire frame from ${what}: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (frame === null || typeof frame !== 'object' || !('w' in frame) || !('m' in frame)) {
    throw new TpslabError('TPSLAB_E_WIRE', `bad wire frame from ${what}: expected {"w":${WIRE_VERSION},"m":…}`);
  }
  const f = frame as { w: unknown; m: unknown };
  if (f.w !== WIRE_VERSION) {
    throw new TpslabError('TPSLAB_E_WIRE', `wire version ${JSON.stringify(f.w)} from ${what}, but this tpslab speaks version ${WIRE_VERSION}: run the same tpslab version on every machine`);
  }
  const r = schema.safeParse(f.m);
  if (!r.success) throw new TpslabError('TPSLAB_E_WIRE', `bad message from ${what}: ${describeZodError(r.error, 'message')}`);
  return r.data;
}
