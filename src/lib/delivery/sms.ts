import { got } from 'got';
import { ProvisionerError, RETRYABLE_NETWORK_CODES, RETRYABLE_STATUSES } from '../core/errors.ts';
import { parseRetryAfterMs } from '../core/backoff.ts';
import { type DeliveryChannel, type Invitation, messageFields, type Recipient } from './channel.ts';
import { DEFAULT_SUPPORT_CONTACT, templateValues } from './email.ts';
import { normaliseMobile } from './phone.ts';
import { DEFAULT_TEMPLATES, loadTemplates, renderTemplate, type TemplateSet } from './templates.ts';

/**
 * The SMS channel over the Twilio Messages API shape, so Twilio or any compatible provider works:
 * `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded `To`, `From`, `Body`,
 * HTTP Basic auth `sid:token`. One request per message, no HTTP-level retry (BullMQ retries).
 */

const DEFAULT_SMS_BASE_URL = 'https://api.twilio.com';

export interface SmsSettings {
  /** Default {@link DEFAULT_SMS_BASE_URL}. */
  baseUrl: string | undefined;
  accountSid: string | undefined;
  authToken: string | undefined;
  /** Sender number (E.164) or alphanumeric sender id, as the provider allows. */
  from: string | undefined;
  /** Whole-request time-out in ms. Default 15 000. */
  timeoutMs?: number;
}

export interface SmsSender {
  /** Sends one message; `body` may contain a code, so it is never logged or put in errors. */
  send(to: string, body: string, options?: { signal?: AbortSignal }): Promise<{ sid: string | undefined }>;
  /**
   * Whether the provider's message log holds this exact text to this number, created since
   * `sinceMs` (the log's dates have whole seconds; a minute of slack allows for clock skew).
   * A message the provider marked `failed` was never sent and does not count.
   */
  wasSent(to: string, body: string, sinceMs: number, options?: { signal?: AbortSignal }): Promise<boolean>;
}

/** How far back before an attempt's start a logged message still counts (whole-second dates, skew). */
const LOG_SLACK_MS = 60_000;

/** One page of the provider's message log, newest first (Twilio: up to 1000 per page). */
const LOG_PAGE_SIZE = 50;

/**
 * The number as E.164 when a text can reach it (the one normaliser in `phone.ts`: separators
 * stripped, `00` → `+`, landlines refused). Undefined otherwise: we never guess a country.
 */
export function toE164(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  const phone = normaliseMobile(raw);
  return phone.ok ? phone.e164 : undefined;
}

export function createSmsSender(settings: SmsSettings): SmsSender {
  const { accountSid, authToken, from } = settings;
  if (!accountSid || !authToken || !from) {
    throw new ProvisionerError(
      'sms_not_configured',
      'SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM must be set for the sms channel',
    );
  }
  const base = (settings.baseUrl ?? DEFAULT_SMS_BASE_URL).replace(/\/+$/, '');
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  const e164 = (to: string): string => {
    const number = toE164(to);
    if (!number) {
      throw new ProvisionerError(
        'invalid_mobile',
        'mobile number is not in E.164 format (e.g. +447700900123)',
      );
    }
    return number;
  };
  // No HTTP-level retry (BullMQ is the one retry layer); every answer is classified below.
  const requestOptions = (signal: AbortSignal | undefined) => ({
    headers: { authorization, accept: 'application/json' },
    throwHttpErrors: false,
    retry: { limit: 0 },
    timeout: { request: settings.timeoutMs ?? 15_000 },
    ...(signal ? { signal } : {}),
  });
  return {
    async wasSent(to, body, sinceMs, options = {}) {
      const search = new URLSearchParams({ To: e164(to), From: from, PageSize: String(LOG_PAGE_SIZE) });
      let response: { statusCode: number; body: string };
      try {
        response = await got.get(`${url}?${search.toString()}`, requestOptions(options.signal));
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        throw new ProvisionerError('sms_unavailable', `SMS provider log unreachable: ${code}`, {
          cause: err,
          retryable: true,
        });
      }
      if (response.statusCode !== 200) {
        throw new ProvisionerError('sms_unavailable', `SMS provider log answered ${response.statusCode}`, {
          retryable: true,
        });
      }
      return loggedMessages(response.body).some(
        (m) =>
          m.body === body &&
          m.status !== 'failed' &&
          (Date.parse(m.date_created ?? '') || 0) >= sinceMs - LOG_SLACK_MS,
      );
    },
    async send(to, body, options = {}) {
      const number = e164(to);
      let response: {
        statusCode: number;
        body: string;
        headers: Record<string, string | string[] | undefined>;
      };
      try {
        response = await got.post(url, {
          form: { To: number, From: from, Body: body },
          ...requestOptions(options.signal),
        });
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'error';
        throw new ProvisionerError('sms_unavailable', `SMS provider unreachable: ${code}`, {
          cause: err,
          retryable: RETRYABLE_NETWORK_CODES.has(code) || code.startsWith('ERR_'),
        });
      }
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        return { sid: parseSid(response.body) };
      }
      const detail = providerError(response.body);
      const message = `SMS provider answered ${status}${detail ? `: ${detail}` : ''}`;
      if (status === 401 || status === 403) {
        throw new ProvisionerError('sms_auth_failed', message);
      }
      const retryAfterMs = parseRetryAfterMs(response.headers['retry-after'], undefined);
      throw new ProvisionerError(
        RETRYABLE_STATUSES.has(status) ? 'sms_unavailable' : 'sms_rejected',
        message,
        {
          retryable: RETRYABLE_STATUSES.has(status),
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        },
      );
    },
  };
}

interface LoggedMessage {
  body?: unknown;
  status?: unknown;
  date_created?: string;
}

/** The `messages` of a log page; anything unreadable is no message (the caller then resends). */
function loggedMessages(body: string): LoggedMessage[] {
  try {
    const parsed = JSON.parse(body) as { messages?: unknown };
    return Array.isArray(parsed.messages) ? (parsed.messages as LoggedMessage[]) : [];
  } catch {
    return [];
  }
}

function parseSid(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { sid?: unknown };
    return typeof parsed.sid === 'string' ? parsed.sid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Twilio errors carry `code` and `message`; the message may quote our Body (the delivery channels
 * scrub the code, then cap the length: cutting here could leave half a code the scrub misses).
 */
function providerError(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    const parts = [parsed.code, parsed.message].filter((p) => typeof p === 'string' || typeof p === 'number');
    return parts.length > 0 ? parts.join(' ') : undefined;
  } catch {
    return undefined;
  }
}

/** What the sms channel needs: the provider, and the texts' app name, support contact and templates. */
export interface SmsChannelSettings {
  sms: SmsSettings;
  appName: string;
  supportContact: string | undefined;
  templatesDir: string | undefined;
}

/**
 * The sms channel: the text from the `sms` template. Sender and templates are made on the first
 * send, so settings are only needed by a process that sends SMS.
 */
export function createSmsChannel(settings: SmsChannelSettings): DeliveryChannel {
  let sender: SmsSender | undefined;
  let templates: Promise<TemplateSet> | undefined;
  /** The number and the text (the same for every attempt of one message), and the sender. */
  const prepare = async (to: Recipient, inv: Invitation) => {
    if (!to.mobile)
      throw new ProvisionerError('mobile_missing', 'the person has no mobile number for the sms channel');
    sender ??= createSmsSender(settings.sms);
    templates ??= settings.templatesDir
      ? loadTemplates(settings.templatesDir)
      : Promise.resolve(DEFAULT_TEMPLATES);
    const values = templateValues(
      { appName: settings.appName, supportContact: settings.supportContact ?? DEFAULT_SUPPORT_CONTACT },
      messageFields(to, inv),
    );
    const text = renderTemplate((await templates).smsText, { ...values }, { html: false });
    return { mobile: to.mobile, text, sender };
  };
  return {
    name: 'sms',
    async send(to, inv, signal) {
      const { mobile, text, sender: s } = await prepare(to, inv);
      await s.send(mobile, text, signal ? { signal } : {});
    },
    // The Messages API takes no idempotency key: the provider's log says whether it went out.
    async recover(to, inv, earlier, signal) {
      const { mobile, text, sender: s } = await prepare(to, inv);
      return (await s.wasSent(mobile, text, earlier.at, signal ? { signal } : {})) ? 'sent' : 'resend';
    },
    close() {},
  };
}
