/**
 * Options of the `http` connector: any HTTP API, one request per transaction
 * from a template, success by status (and optionally a JSON condition), and
 * optional confirmation by polling a status URL.
 */
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/ });
const count = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);

/** Placeholders a request template may use, and what each becomes. */
export const PLACEHOLDERS = {
  seq: "the transaction's index in its beacon's plan",
  account: 'the sending account (0 .. accounts.count-1)',
  target: 'the recipient account or topic index from the contention plan',
  beacon: 'the beacon number',
  uuid: 'a random UUID made once per transaction (the same on every resend)',
  intendedMs: 'the intended send time, ms since the start instant',
  amount: "the workload's amount",
} as const;
/** In the confirmation URL: also the transaction's id (the `id` template's value). */
const CONFIRM_PLACEHOLDERS = [...Object.keys(PLACEHOLDERS), 'id'];

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

function placeholdersIn(allowed: readonly string[]) {
  return (text: string, ctx: z.RefinementCtx): void => {
    for (const m of text.matchAll(PLACEHOLDER)) {
      if (!allowed.includes(m[1]!)) ctx.addIssue({ code: 'custom', message: `unknown placeholder {{${m[1]}}}; valid: ${allowed.map((p) => `{{${p}}}`).join(', ')}`, input: text });
    }
  };
}
const template = z.string().superRefine(placeholdersIn(Object.keys(PLACEHOLDERS)));
const confirmTemplate = z.string().superRefine(placeholdersIn(CONFIRM_PLACEHOLDERS));

/** A condition on a JSON answer: the value at `path` (dot-separated, e.g. "result.status") equals one of `in`, or exists. */
export const JsonConditionSchema = z
  .strictObject({
    path: z.string().min(1).describe('Dot-separated path into the JSON answer, such as "status" or "result.state".'),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional().describe('The value must equal this.'),
    in: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).min(1).optional().describe('The value must be one of these.'),
  })
  .describe('A condition on a JSON answer; with neither equals nor in, the path must exist.');

export const HttpTargetSchema = z
  .strictObject({
    kind: z.literal('http'),
    endpoints: z.array(httpUrl).min(1).describe('Base URLs of the API; beacons spread over them and fail over between them.'),
    request: z
      .strictObject({
        method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
        path: template.describe('Path (and query) after the endpoint, with placeholders, e.g. "/v1/transfers".'),
        headers: z.record(z.string(), template).default({}).describe('Request headers; values may use placeholders.'),
        body: template.optional().describe('Request body with placeholders (sent as is; set content-type in headers).'),
      })
      .describe('One request per transaction.'),
    id: template.default('{{uuid}}').describe("The transaction's id as reported and reconciled: a template (default a UUID)."),
    success: z
      .strictObject({
        status: z.array(count(100, 599)).min(1).default([200, 201, 202, 204]).describe('HTTP statuses that mean accepted.'),
        json: JsonConditionSchema.optional().describe('And this must hold on the JSON answer.'),
        knownStatus: z.array(count(100, 599)).default([]).describe('Statuses that mean "already have it" (a resend after a lost answer), e.g. [409].'),
      })
      .prefault({}),
    confirm: z
      .strictObject({
        path: confirmTemplate.describe('Status URL path after the endpoint, e.g. "/v1/transfers/{{id}}".'),
        intervalMs: count(10, 600_000).default(500).describe('How often each pending transaction is polled.'),
        until: JsonConditionSchema.describe('Committed when this holds on the status answer.'),
        failWhen: JsonConditionSchema.optional().describe('Failed (for good) when this holds.'),
      })
      .optional()
      .describe('Confirm by polling; without it, an accepted request counts as committed when it is answered.'),
    health: z.string().startsWith('/').optional().describe('A path answered 2xx when an endpoint is healthy (node table, failover checks).'),
    timeoutMs: count(1, 600_000).default(10_000).describe('A request unanswered this long is retried on the next endpoint.'),
    connections: count(1, 1024).default(64).describe('Keep-alive connections per endpoint and beacon.'),
  })
  .describe('Any HTTP API, driven by request templates. No reconciliation: the API is not asked what it committed.');

export type HttpTargetOptions = z.output<typeof HttpTargetSchema>;

export const HttpBeaconSchema = z.strictObject({
  endpoints: z.array(z.string()).min(1),
  beacon: z.number().int().nonnegative(),
  amount: z.number(),
  request: z.strictObject({ method: z.string(), path: z.string(), headers: z.record(z.string(), z.string()), body: z.string().optional() }),
  id: z.string(),
  success: z.strictObject({ status: z.array(z.number()), json: JsonConditionSchema.optional(), knownStatus: z.array(z.number()) }),
  confirm: z.strictObject({ path: z.string(), intervalMs: z.number(), until: JsonConditionSchema, failWhen: JsonConditionSchema.optional() }).optional(),
  timeoutMs: z.number(),
  connections: z.number(),
});

export type HttpBeaconConfig = z.infer<typeof HttpBeaconSchema>;
export type JsonCondition = z.infer<typeof JsonConditionSchema>;
