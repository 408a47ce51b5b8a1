import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { budgetKeysOf } from '../../src/lib/doorflow/budget.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';

/**
 * Every Redis key, pinned to the exact string the fleet has always used: a running fleet (and
 * the data it left in Redis) reads these, so a change here is a migration, not a refactor.
 */
describe('RedisKeys', () => {
  const k = new RedisKeys('{dfp}');

  it('keeps the prefix it was given', () => {
    expect(k.prefix).toBe('{dfp}');
    expect(new RedisKeys('{dfp:acme}').run('r1')).toBe('{dfp:acme}:run:r1');
  });

  it('runs and their finish marks', () => {
    expect(k.run('r20260101-abc')).toBe('{dfp}:run:r20260101-abc');
    expect(k.runStatus('r1')).toBe('{dfp}:run:r1:status');
    expect(k.runEntries('r1')).toBe('{dfp}:run:r1:entries');
    expect(k.runNames('r1')).toBe('{dfp}:run:r1:names');
    expect(k.runOutcomeIndex('r1')).toBe('{dfp}:run:r1:index');
    expect(k.runOutcomeGroups('r1')).toBe('{dfp}:run:r1:outcomes');
    expect(k.runSeries('r1')).toBe('{dfp}:run:r1:series');
    expect(k.runScriptKeys('r1')).toEqual([
      '{dfp}:run:r1',
      '{dfp}:run:r1:status',
      '{dfp}:run:r1:entries',
      '{dfp}:run:r1:outcomes',
      '{dfp}:run:r1:index',
      '{dfp}:run:r1:series',
    ]);
    expect(k.runs).toBe('{dfp}:runs');
    expect(k.runFinished('r1', 1767225600000)).toBe('{dfp}:run-finished:r1:1767225600000');
    expect(k.runNotified('r1', '2026-01-01T00:00:00.000Z')).toBe('{dfp}:notify:r1:2026-01-01T00:00:00.000Z');
    expect(k.runNotified('r1', undefined)).toBe('{dfp}:notify:r1:');
  });

  it('every key of a run, for purge: the run hash last, the finish marks when the finish is known', () => {
    expect(k.runKeys('r1')).toEqual([
      '{dfp}:run:r1:status',
      '{dfp}:run:r1:entries',
      '{dfp}:run:r1:names',
      '{dfp}:run:r1:index',
      '{dfp}:run:r1:outcomes',
      '{dfp}:run:r1:series',
      '{dfp}:sync:r1',
      '{dfp}:sync:r1:done',
      '{dfp}:scim:burst:r1:offboards',
      '{dfp}:run:r1',
    ]);
    expect(k.runKeys('r1', 5).slice(0, 2)).toEqual(['{dfp}:run-finished:r1:5', '{dfp}:notify:r1:5']);
  });

  it('every key of a terminal credential, for purge, and the lookup bases its script appends to', () => {
    expect(k.credentialKeys('c1', ['email'])).toEqual([
      '{dfp}:cred:c1:history',
      '{dfp}:cred:c1:code',
      '{dfp}:reissue:c1',
      '{dfp}:cred:c1:timers',
      '{dfp}:delivered:c1:email',
      '{dfp}:delivering:c1:email',
      '{dfp}:cred:c1',
    ]);
    expect(k.credentialLookupBases).toEqual(['{dfp}:creds:by-person:', '{dfp}:creds:person-of:']);
  });

  it('lifecycle timers: the due index, the payloads, the timers in hand', () => {
    expect(k.lifecycleTimerKeys).toEqual([
      '{dfp}:lifecycle:due',
      '{dfp}:lifecycle:timers',
      '{dfp}:lifecycle:in-hand',
    ]);
    expect(k.credentialTimers('c1')).toBe('{dfp}:cred:c1:timers');
  });

  it('dead letters', () => {
    expect(k.deadLetter('0123456789ab')).toBe('{dfp}:dead:0123456789ab');
    expect(k.deadLetters).toBe('{dfp}:dead');
    expect(k.deadLetterPattern).toBe('{dfp}:dead:*');
  });

  it('people', () => {
    expect(k.peopleIndex).toBe('{dfp}:people:index');
    expect(k.peopleIndexBuild('a1b2c3d4')).toBe('{dfp}:people:index:build:a1b2c3d4');
    expect(k.peopleMap).toBe('{dfp}:people:map');
    expect(k.personPending('sid:E-001')).toBe('{dfp}:people:pending:sid:E-001');
    expect(k.personContact(42)).toBe('{dfp}:people:contact:42');
    expect(k.redisEpoch).toBe('{dfp}:redis:epoch');
    expect(k.managed).toBe('{dfp}:managed');
  });

  it('credentials', () => {
    expect(k.credential('c1')).toBe('{dfp}:cred:c1');
    expect(k.credentialHistory('c1')).toBe('{dfp}:cred:c1:history');
    expect(k.credentialCode('c1')).toBe('{dfp}:cred:c1:code');
    expect(k.credentialPending(42)).toBe('{dfp}:cred:pending:42');
    expect(k.credentialsByStatus('provisioning')).toBe('{dfp}:creds:by-status:provisioning');
    expect(k.credentialsByStatusBase).toBe('{dfp}:creds:by-status:');
    expect(k.credentialStatuses).toBe('{dfp}:creds:statuses');
    expect(k.credentialsOfPerson(42)).toBe('{dfp}:creds:by-person:42');
    expect(k.personOfSystemId('E-001')).toBe('{dfp}:creds:person-of:E-001');
    expect(k.reissueMarker('c1')).toBe('{dfp}:reissue:c1');
  });

  it('deliveries and locks', () => {
    expect(k.delivered('c1', 'email')).toBe('{dfp}:delivered:c1:email');
    expect(k.delivered('c1', 'sms-reminder-2')).toBe('{dfp}:delivered:c1:sms-reminder-2');
    expect(k.deliveryClaim('c1', 'email')).toBe('{dfp}:delivering:c1:email');
    expect(k.personLock('sid:E-001')).toBe('{dfp}:lock:person:sid:E-001');
    expect(k.credentialLock(42)).toBe('{dfp}:lock:cred:42');
    expect(k.deliveryLock('c1', 'webhook')).toBe('{dfp}:lock:deliver:c1:webhook');
  });

  it('webhooks', () => {
    const signature = 'ab'.repeat(32);
    const digest = createHash('sha256').update(signature).digest('hex').slice(0, 32);
    expect(k.webhookSeen(signature)).toBe(`{dfp}:webhook:seen:${digest}`);
    expect(k.webhookAck('credential', 'c1', 'tok')).toBe('{dfp}:webhook:ack:credential:c1:tok');
  });

  it('admin sessions: a digest of the id, never the id', () => {
    const digest = createHash('sha256').update('session-id').digest('hex');
    expect(k.adminSession('session-id')).toBe(`{dfp}:admin-session:${digest}`);
  });

  it('sync', () => {
    expect(k.syncRun('r1')).toBe('{dfp}:sync:r1');
    expect(k.syncRunDone('r1')).toBe('{dfp}:sync:r1:done');
    expect(k.syncLastCount('csv:roster.csv')).toBe('{dfp}:sync:last:csv:roster.csv');
    expect(k.syncLastCount('bamboohr:acme')).toBe('{dfp}:sync:last:bamboohr:acme');
    expect(k.syncHistory('csv')).toBe('{dfp}:sync:history:csv');
    expect(k.quarantinedPlan('p20261207-ab12cd34')).toBe('{dfp}:plan:p20261207-ab12cd34');
    expect(k.quarantinedPlans).toBe('{dfp}:plans');
    expect(k.learnedLicenceLimit).toBe('{dfp}:licence:learned');
  });

  it('scim', () => {
    expect(k.scimUsers).toBe('{dfp}:scim:users');
    expect(k.scimUserNames).toBe('{dfp}:scim:user-names');
    expect(k.scimInactive).toBe('{dfp}:scim:inactive');
    expect(k.scimBurst).toBe('{dfp}:scim:burst');
    expect(k.scimBurstOffboards('r1')).toBe('{dfp}:scim:burst:r1:offboards');
  });

  it('operations', () => {
    expect(k.alertCounts).toBe('{dfp}:alerts:count');
    expect(k.alertSent('stuck_provisioning', 'c1:123')).toBe('{dfp}:alerts:sent:stuck_provisioning:c1:123');
    expect(k.audit).toBe('{dfp}:audit');
    expect(k.workers).toBe('{dfp}:workers');
  });

  it('the DoorFlow client: shared tokens and the fleet budget', () => {
    expect(k.tokens).toBe('{dfp}:tokens');
    expect(k.tokensLock).toBe('{dfp}:tokens:lock');
    expect(k.authPause).toBe('{dfp}:auth:pause');
    expect(k.pipelinePause).toBe('{dfp}:pipeline:pause');
    expect(budgetKeysOf(k)).toEqual({
      tat: '{dfp}:budget',
      log: '{dfp}:budget:log',
      pause: '{dfp}:budget:pause',
      last: '{dfp}:budget:last',
    });
  });
});
