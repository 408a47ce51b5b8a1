import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryChannelName } from '../../src/lib/delivery/channel-names.ts';
import { derivedSystemId } from '../../src/lib/roster/email-policy.ts';
import { rosterKey } from '../../src/lib/roster/entry.ts';
import { intake } from '../../src/producers/intake.ts';
import { killAndWait, spawnWorker } from '../helpers/cli.ts';
import { type FakeSms, startFakeSms } from '../helpers/fake-sms.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';
import { type SmtpReceiver, startSmtpReceiver } from '../helpers/smtp-receiver.ts';

/**
 * Issue 13 §3, acceptance 4: for each delivery mode, 300 people with lost responses and a worker
 * SIGKILLed mid-run: every person has exactly one invitation, counted across DoorFlow's own
 * outbox (the simulator's) and our channels (SMTP receiver, fake SMS provider, webhook receiver).
 * A third of the entries have no system_id (the derived one carries look-up-before-create).
 */
describe('pipeline: one invitation per person (DOORFLOW_SEND_EMAIL=auto)', () => {
  let h: Harness | undefined;
  let smtp: SmtpReceiver | undefined;
  let sms: FakeSms | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(children.map((c) => killAndWait(c, 'SIGKILL')));
    children.length = 0;
    await h?.close();
    await smtp?.close();
    await sms?.close();
    h = undefined;
  });

  it('doorflow, email, sms, webhook × 300 people, lost responses and a SIGKILL: one invitation each', async () => {
    smtp = await startSmtpReceiver();
    sms = await startFakeSms();
    h = await startHarness({
      sim: { faults: { latencyMs: 2, lostResponse: { person: 0.05, credential: 0.05 } } },
      env: {
        SMTP_URL: smtp.url,
        MAIL_FROM: 'access@example.com',
        SMS_BASE_URL: sms.url,
        SMS_ACCOUNT_SID: sms.accountSid,
        SMS_AUTH_TOKEN: sms.authToken,
        SMS_FROM: '+15005550006',
        WORKER_LOCK_DURATION: '4s',
        WORKER_MAX_STALLED: '50',
        DOORFLOW_TIMEOUT_MS: '3000',
      },
    });
    const env = h.env;
    const workers = await Promise.all([spawnWorker(env), spawnWorker(env)]);
    children.push(...workers);

    const modes: DeliveryChannelName[] = ['doorflow', 'email', 'sms', 'webhook'];
    const expected = new Map<string, { mode: DeliveryChannelName; email: string; mobile: string }>();
    for (const [m, mode] of modes.entries()) {
      const rows = roster(300, 1 + m * 1000).map((r, i) => {
        const row: Record<string, unknown> = { ...r, mobile: `+44 7700 900 ${String(100 + i)}` };
        if (i % 3 === 0) delete row.system_id;
        return row;
      });
      for (const row of rows) {
        const sid =
          typeof row.system_id === 'string'
            ? row.system_id
            : derivedSystemId(rosterKey({ email: String(row.email) }) ?? '');
        expected.set(sid, { mode, email: String(row.email), mobile: String(row.mobile) });
      }
      const run = await intake(h.pipeline.intakeDeps(), { source: `one-${mode}`, delivery: mode }, rows);
      expect(run.accepted).toBe(300);
      // Kill one worker while this mode's work is flowing, then start a new one.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await h.pipeline.runs.get(run.runId);
        if ((r?.counts.provisioned ?? 0) >= 60 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const w = m % 2;
      await killAndWait(workers[w]!, 'SIGKILL');
      workers[w] = await spawnWorker(env);
      children.push(workers[w]!);
      const finished = await h.waitForRun(run.runId, 240_000);
      // A credential whose create response was lost is found on retry: counted already_provisioned.
      const ok = (finished.counts.provisioned ?? 0) + (finished.counts.already_provisioned ?? 0);
      expect({ mode, ok, dead: finished.dead }).toEqual({ mode, ok: 300, dead: 0 });
    }

    // Count every invitation per person (keyed by system_id, own or derived), across all channels.
    const people = h.sim.people().filter((p) => !p.deleted);
    const sidOf = new Map(people.map((p) => [p.id, p.system_id ?? '']));
    const byEmail = new Map([...expected].map(([sid, e]) => [e.email, sid]));
    const byMobile = new Map<string, string[]>();
    for (const [sid, e] of expected) {
      const e164 = `+${e.mobile.replace(/\D/g, '')}`;
      byMobile.set(e164, [...(byMobile.get(e164) ?? []), sid]);
    }
    const counts = new Map<string, Record<string, number>>();
    const count = (sid: string | undefined, channel: string) => {
      const c = counts.get(sid ?? '?') ?? {};
      c[channel] = (c[channel] ?? 0) + 1;
      counts.set(sid ?? '?', c);
    };
    for (const mail of h.sim.outbox()) count(sidOf.get(mail.person_id), 'doorflow');
    for (const d of h.receiver.accepted) count(sidOf.get(d.personId), 'webhook');
    for (const mail of smtp.messages) {
      const to = mail.to && !Array.isArray(mail.to) ? mail.to.text : '';
      count(byEmail.get(to), 'email');
    }
    // The same numbers were used in every mode: only the sms mode's people may get a text.
    for (const text of sms.messages) {
      const sid = byMobile.get(text.to)?.find((s) => expected.get(s)?.mode === 'sms');
      count(sid, 'sms');
    }
    const stats = h.sim.stats();
    // A SIGKILL after an email's point of no return (its commit mark is in Redis, the end of DATA
    // may or may not have left) is settled as `unknown`: not sent again, since it may have arrived;
    // the reminder repeats it. Such a person may have no email yet, never two.
    const unsure = new Set<string>();
    for (const credential of h.sim.credentials()) {
      const sid = sidOf.get(credential.person_id);
      if (!sid || expected.get(sid)?.mode !== 'email') continue;
      const record = await h.pipeline.stores.deliveries.find(credential.id, 'email');
      if (record?.recovered === 'unknown') unsure.add(sid);
    }
    const wrong = [...expected].filter(([sid, e]) => {
      const c = counts.get(sid) ?? {};
      if (Object.keys(c).length === 0 && unsure.has(sid)) return false;
      return Object.keys(c).length !== 1 || c[e.mode] !== 1;
    });
    console.log(
      `[issue 13 §3] people=${people.length} outbox=${h.sim.outbox().length} webhook=${h.receiver.accepted.length} ` +
        `(repeats dropped ${h.receiver.repeats()}) email=${smtp.messages.length} sms=${sms.messages.length} ` +
        `unsure=${unsure.size} wrong=${wrong.length} duplicates=${JSON.stringify(stats.duplicates)}`,
    );
    // Only sends in flight at the one kill of the email mode can be unsure.
    expect(unsure.size).toBeLessThanOrEqual(20);
    expect(wrong.slice(0, 5).map(([sid]) => [sid, counts.get(sid)])).toEqual([]);
    expect(counts.has('?')).toBe(false);
    expect(people).toHaveLength(1200);
    expect(new Set(people.map((p) => p.system_id)).size).toBe(1200);
    // Email withheld from DoorFlow (auto) for every self-delivered person.
    const withEmail = people.filter((p) => p.email);
    expect(withEmail.every((p) => expected.get(p.system_id ?? '')?.mode === 'doorflow')).toBe(true);
    expect(withEmail).toHaveLength(300);
  }, 900_000);
});
