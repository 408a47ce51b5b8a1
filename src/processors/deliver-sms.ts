import { type DeliveryPayload, deliveryPayloadSchema } from '../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import { deliverOwn } from './deliver-own.ts';

/** Step 4 (sms channel): send the invitation code by SMS (Twilio Messages API shape). */
export const queueName = 'delivery-sms' as const;
export const payloadSchema = deliveryPayloadSchema;

export async function handle(p: DeliveryPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  return await deliverOwn('sms', p, deps, ctx);
}
