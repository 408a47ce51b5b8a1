import type { AccountSettings, Config } from './config.ts';

/**
 * The configuration as it may be shown: the secret values a logger must redact, and a printable
 * copy with every secret masked (`config check`). Separate from the parsing in `config.ts`.
 */

/** Values that must never appear in logs, errors or reports. */
export function secretValues(config: Config): string[] {
  const values = [
    // Every account's, not only the selected one's: a worker serves them all in one process.
    ...config.accounts.flatMap((account) => [
      account.doorflow.accessToken,
      account.doorflow.refreshToken,
      account.doorflow.clientSecret,
      account.webhook.secret,
      account.delivery.webhookSecret,
      account.delivery.sms.authToken,
    ]),
    config.admin.token,
    config.admin.password,
    config.admin.metricsToken,
    config.hris.bamboohrApiKey,
    config.scim.token,
    config.encryptionKey?.toString('hex'),
    config.encryptionKey?.toString('base64'),
  ];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v.length >= 4))];
}

function mask(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value.length <= 8 ? '****' : `${value.slice(0, 2)}****${value.slice(-2)}`;
}

function maskUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return url;
  }
}

function describeAccount(account: AccountSettings) {
  return {
    ...account,
    doorflow: {
      ...account.doorflow,
      accessToken: mask(account.doorflow.accessToken),
      refreshToken: mask(account.doorflow.refreshToken),
      clientSecret: mask(account.doorflow.clientSecret),
    },
    webhook: { ...account.webhook, secret: mask(account.webhook.secret) },
    delivery: {
      ...account.delivery,
      smtpUrl: maskUrl(account.delivery.smtpUrl),
      webhookSecret: mask(account.delivery.webhookSecret),
      sms: { ...account.delivery.sms, authToken: mask(account.delivery.sms.authToken) },
    },
  };
}

/** A printable copy of the config with every secret masked (for `config check`). */
export function describeConfig(config: Config): Record<string, unknown> {
  const selected = describeAccount(
    config.accounts.find((a) => a.name === config.account) ?? { ...config, name: config.account },
  );
  return {
    ...config,
    // One account: its settings at the top level, as before accounts existed.
    accounts: config.accounts.length > 1 ? config.accounts.map(describeAccount) : undefined,
    redisUrl:
      maskUrl(config.redisUrl) ??
      (config.redisCluster ? undefined : '(embedded redis-server for demo/tests)'),
    redisCluster: config.redisCluster && {
      ...config.redisCluster,
      password: mask(config.redisCluster.password),
    },
    doorflow: selected.doorflow,
    webhook: selected.webhook,
    encryptionKey: config.encryptionKey ? '**** (32 bytes)' : undefined,
    delivery: selected.delivery,
    admin: {
      ...config.admin,
      token: mask(config.admin.token),
      password: mask(config.admin.password),
      metricsToken: mask(config.admin.metricsToken),
    },
    hris: { ...config.hris, bamboohrApiKey: mask(config.hris.bamboohrApiKey) },
    scim: { ...config.scim, token: mask(config.scim.token) },
  };
}
