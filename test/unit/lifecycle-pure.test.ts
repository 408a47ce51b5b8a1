import { describe, expect, it } from 'vitest';
import { invitationDeadline, pollIntervalMs } from '../../src/processors/lifecycle/schedule.ts';
import { parseWebhookBody, statusEventJobId } from '../../src/server/doorflow-webhooks.ts';

const MIN = 60_000;
const DAY = 86_400_000;

describe('lifecycle timing', () => {
  it('doubles the poll interval from STATUS_POLL_AFTER, capped at 6 h', () => {
    expect([0, 1, 2, 3].map((n) => pollIntervalMs(15 * MIN, n))).toEqual([
      15 * MIN,
      30 * MIN,
      60 * MIN,
      120 * MIN,
    ]);
    expect(pollIntervalMs(15 * MIN, 50)).toBe(6 * 60 * MIN);
    expect(pollIntervalMs(10 * 3600_000, 3)).toBe(10 * 3600_000);
  });
  it('ends an invitation at DoorFlow expiry or INVITATION_TTL, whichever is first', () => {
    const since = Date.UTC(2026, 0, 1);
    expect(invitationDeadline({ since, expiresAt: undefined }, 7 * DAY, since)).toBe(since + 7 * DAY);
    expect(invitationDeadline({ since, expiresAt: since + 2 * DAY }, 7 * DAY, since)).toBe(since + 2 * DAY);
    expect(invitationDeadline({ since, expiresAt: since + 30 * DAY }, 7 * DAY, since)).toBe(since + 7 * DAY);
  });
});

describe('webhook bodies', () => {
  it('keeps credential notices, accepts resource_url, reads ack_token from the URL, drops other resource types', () => {
    const events = parseWebhookBody(
      'real',
      [
        {
          action: 'UPDATE',
          resource_url: 'https://api.doorflow.com/api/3/people/1/credentials/a?ack_token=x1',
          resource_type: 'PersonCredential',
          resource_id: 'a',
        },
        {
          action: 'CREATE',
          resource: 'https://api.doorflow.com/api/3/events/9?ack_token=y',
          resource_type: 'Event',
          resource_id: 9,
        },
      ],
      1,
    );
    expect(events).toEqual([
      {
        format: 'real',
        action: 'UPDATE',
        resourceType: 'PersonCredential',
        resourceId: 'a',
        resource: 'https://api.doorflow.com/api/3/people/1/credentials/a?ack_token=x1',
        ackToken: 'x1',
        receivedAt: 1,
      },
    ]);
  });
  it('rejects shapes DoorFlow does not send', () => {
    expect(parseWebhookBody('real', { hello: 'world' }, 1)).toBeUndefined();
    expect(parseWebhookBody('real', 'text', 1)).toBeUndefined();
    expect(parseWebhookBody('seed', [{ credential_id: 'a' }], 1)).toBeUndefined();
  });
  it('gives the same job id to the same notice, so a redelivery is processed once', () => {
    const [a] =
      parseWebhookBody(
        'real',
        {
          action: 'UPDATE',
          resource: 'https://x/api/3/people/1/credentials/a?ack_token=t',
          resource_type: 'PersonCredential',
          resource_id: 'a',
        },
        1,
      ) ?? [];
    const [b] =
      parseWebhookBody(
        'real',
        {
          action: 'UPDATE',
          resource: 'https://x/api/3/people/1/credentials/a?ack_token=t',
          resource_type: 'PersonCredential',
          resource_id: 'a',
        },
        2,
      ) ?? [];
    expect(a && b && statusEventJobId(a)).toBe(b && statusEventJobId(b));
    expect(a && statusEventJobId(a)).not.toContain(':');
  });
});
