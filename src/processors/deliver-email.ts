import { type DeliveryPayload, deliveryPayloadSchema } from '../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import { deliverOwn } from './deliver-own.ts';

/** Step 4 (email channel): send the invitation by SMTP, with instructions and a QR code. */
export const queueName = 'delivery-email' as const;
export const payloadSchema = deliveryPayloadSchema;

export async function handle(p: DeliveryPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  return await deliverOwn('email', p, deps, ctx);
}
