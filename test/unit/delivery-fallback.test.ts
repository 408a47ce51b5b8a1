import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/core/config.ts';
import { ConfigError } from '../../src/lib/core/errors.ts';
import { parseChannelList } from '../../src/lib/delivery/channel-names.ts';
import { pickDeliveryChannel } from '../../src/lib/roster/entry.ts';
import { isRejection, validateRecord } from '../../src/producers/validate-row.ts';

describe('delivery fallback order', () => {
  it('keeps the wanted channel when it reaches the person', () => {
    expect(pickDeliveryChannel('email', ['sms'], { email: true, mobile: true })).toBe('email');
    expect(pickDeliveryChannel('webhook', ['sms'], { email: false, mobile: false })).toBe('webhook');
  });

  it('takes the first fallback that reaches the person, else the wanted channel', () => {
    expect(pickDeliveryChannel('email', ['doorflow', 'sms'], { email: false, mobile: true })).toBe('sms');
    expect(pickDeliveryChannel('sms', ['email', 'webhook'], { email: true, mobile: false })).toBe('email');
    expect(pickDeliveryChannel('email', ['sms'], { email: false, mobile: false })).toBe('email');
    expect(pickDeliveryChannel('email', [], { email: false, mobile: true })).toBe('email');
  });

  it('parses channel lists and refuses unknown names', () => {
    expect(parseChannelList('sms, Email,sms')).toEqual(['sms', 'email']);
    expect(parseChannelList('')).toEqual([]);
    expect(parseChannelList('sms,pigeon')).toBeUndefined();
  });

  it('reads DELIVERY_FALLBACK from the environment and names it when wrong', () => {
    expect(loadConfig({}).delivery.fallback).toEqual([]);
    expect(loadConfig({ DELIVERY_FALLBACK: 'sms,doorflow' }).delivery.fallback).toEqual(['sms', 'doorflow']);
    expect(() => loadConfig({ DELIVERY_FALLBACK: 'fax' })).toThrow(ConfigError);
    expect(() => loadConfig({ DELIVERY_FALLBACK: 'fax' })).toThrow(/DELIVERY_FALLBACK: expected channels/);
  });

  it('a CSV row without an email falls back to SMS (mobile normalised) instead of being refused', () => {
    const row = { system_id: 'E1', first_name: 'Ana', last_name: 'Lopes', mobile: '07700 900123' };
    const refused = validateRecord(row, 2, { fallbackDelivery: 'email', defaultCountry: 'GB' });
    expect(isRejection(refused) && refused.reason).toBe('email is required for email delivery');
    const entry = validateRecord(row, 2, {
      fallbackDelivery: 'email',
      fallbackOrder: ['sms'],
      defaultCountry: 'GB',
    });
    expect(isRejection(entry)).toBe(false);
    expect(entry).toMatchObject({ delivery: 'sms', mobile: '+447700900123' });
  });

  it('a row the fallback cannot reach either is refused with the wanted channel’s reason', () => {
    const row = { system_id: 'E2', first_name: 'Bo', last_name: 'Ek', mobile: 'not a number' };
    const result = validateRecord(row, 3, {
      fallbackDelivery: 'email',
      fallbackOrder: ['sms'],
      defaultCountry: 'GB',
    });
    expect(isRejection(result) && result.reason).toBe('email is required for email delivery');
  });

  it('a row that its channel reaches keeps it', () => {
    const row = { system_id: 'E3', first_name: 'Cy', last_name: 'Dal', email: 'cy@example.test' };
    const entry = validateRecord(row, 4, { fallbackDelivery: 'email', fallbackOrder: ['sms'] });
    expect(isRejection(entry)).toBe(false);
    expect(entry).not.toHaveProperty('delivery');
  });
});
