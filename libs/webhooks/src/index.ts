/** libs/webhooks: signed, retried webhook deliveries of run state changes, and the SSRF policy they obey. */
export { AddressPolicy, parseAllowedNetworks, parseCidr } from './address-policy.ts';
export { checkWebhookUrl, parseWebhookUrl, systemResolver, WebhookUrlError, MAX_WEBHOOK_URL, type Resolver } from './webhook-url.ts';
export {
  DEFAULT_TOLERANCE_SECONDS,
  newWebhookSecret,
  SIGNATURE_HEADER,
  signatureHeader,
  signatureHex,
  signatureProblem,
  verifyWebhookSignature,
  type VerifyOptions,
} from './signature.ts';
export { postWebhook, type WebhookPostOptions, type WebhookPostResult } from './webhook-post.ts';
export {
  WebhookDispatcher,
  WEBHOOKS_QUEUE,
  type AttemptLogEntry,
  type WebhookDispatcherOptions,
  type WebhookJobData,
} from './webhook-dispatcher.ts';

/** the run state changes a webhook can subscribe to */
export const WEBHOOK_EVENTS = ['run.queued', 'run.running', 'run.succeeded', 'run.failed', 'run.cancelled'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
