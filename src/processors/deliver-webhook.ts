import { type DeliveryPayload, deliveryPayloadSchema } from '../lib/jobs/registry.ts';
import type { JobContext, ProcessorDeps } from './context.ts';
import { deliverOwn, invitationOf, recipientOf } from './deliver-own.ts';
import { webhookMessageBody, webhookTarget } from '../lib/delivery/webhook.ts';

/**
 * Step 4 (webhook channel): POST the invitation to DELIVERY_WEBHOOK_URL, signed as described in
 * webhook-message.ts. A 2xx is a confirmed send, recorded once through the shared delivery path
 * (deliver-own.ts), so a retried or replayed job never sends again.
 */

export const queueName = 'delivery-webhook' as const;
export const payloadSchema = deliveryPayloadSchema;

export {
  deliveryId,
  instructionsText,
  signWebhook,
  WebhookDeliveryError,
} from '../lib/delivery/webhook.ts';

/** The JSON body the receiver gets for a delivery job's first message. */
export function webhookBody(p: DeliveryPayload, code: string, instructions: string): Record<string, unknown> {
  return webhookMessageBody(recipientOf(p), invitationOf(p, code), instructions);
}

export async function handle(p: DeliveryPayload, deps: ProcessorDeps, ctx: JobContext): Promise<string> {
  // Checked before anything else, so a misconfigured process fails the job permanently at once.
  webhookTarget(deps.config.delivery);
  return await deliverOwn('webhook', p, deps, ctx);
}
