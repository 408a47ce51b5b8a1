import type { Config } from '../core/config.ts';
import type { ConfigProblem } from '../core/errors.ts';
import type { DeliveryChannelName } from './channel-names.ts';

/**
 * What each delivery channel needs configured before anything is sent through it: the same
 * settings its sender refuses to start without (`email.ts`, `sms.ts`, `webhook.ts`), checked up
 * front so `import` (dry run or not) and `config check` fail with exit 3 naming each variable,
 * instead of every entry dead-lettering one by one. DoorFlow's own channel needs nothing here.
 */
function settingsOf(config: Config, channel: DeliveryChannelName): [variable: string, value: unknown][] {
  const d = config.delivery;
  switch (channel) {
    case 'doorflow':
      return [];
    case 'webhook':
      return [
        ['ENCRYPTION_KEY', config.encryptionKey],
        ['DELIVERY_WEBHOOK_URL', d.webhookUrl],
        ['DELIVERY_WEBHOOK_SECRET', d.webhookSecret],
      ];
    case 'email':
      return [
        ['ENCRYPTION_KEY', config.encryptionKey],
        ['SMTP_URL', d.smtpUrl],
        ['MAIL_FROM', d.mailFrom],
      ];
    case 'sms':
      return [
        ['ENCRYPTION_KEY', config.encryptionKey],
        ['SMS_ACCOUNT_SID', d.sms.accountSid],
        ['SMS_AUTH_TOKEN', d.sms.authToken],
        ['SMS_FROM', d.sms.from],
      ];
  }
}

/**
 * Every missing setting of the given channels, once per variable, each saying which channel and
 * which choice (`--delivery email`, `DELIVERY_FALLBACK`) needs it.
 */
export function channelSettingProblems(
  config: Config,
  wanted: readonly { channel: DeliveryChannelName; chosenBy: string }[],
): ConfigProblem[] {
  const needs = new Map<string, string[]>();
  for (const { channel, chosenBy } of wanted) {
    for (const [variable, value] of settingsOf(config, channel)) {
      if (value) continue;
      const reasons = needs.get(variable) ?? [];
      const reason = `the ${channel} channel (${chosenBy})`;
      if (!reasons.includes(reason)) reasons.push(reason);
      needs.set(variable, reasons);
    }
  }
  return [...needs].map(([variable, reasons]) => ({
    variable,
    expected: `required for ${reasons.join(' and ')}`,
  }));
}
