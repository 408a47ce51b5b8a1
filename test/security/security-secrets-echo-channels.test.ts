import { afterEach, describe, expect, it } from 'vitest';
import { intake } from '../../src/producers/intake.ts';
import { runCli } from '../helpers/cli.ts';
import { startEchoWebhook } from '../helpers/echo-webhook.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';
import { dumpRedis } from '../helpers/redis-dump.ts';
import { startSmtpReceiver } from '../helpers/smtp-receiver.ts';

const CODE_SHAPE = /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/;

/**
 * Every place a failed delivery shows up: dead letters, BullMQ's failedReason and stacktrace,
 * the run's entries, Redis as a whole, and the `dlq list` / `runs show --json` a user runs.
 */
async function everyView(h: Harness, queue: 'delivery-email' | 'delivery-webhook', runId: string) {
  const dead = await h.pipeline.deadLetters.list();
  const failed = await h.pipeline.queues.get(queue).getFailed();
  const entries = await h.pipeline.runs.entries(runId);
  const dlq = await runCli(['dlq', 'list'], h.env);
  const show = await runCli(['runs', 'show', runId, '--json'], h.env);
  expect(dlq.code, dlq.stderr).toBe(0);
  expect(show.code, show.stderr).toBe(0);
  const stored = (await dumpRedis(h.pipeline.redis, h.config.queuePrefix)).text;
  return {
    dead,
    text: [
      JSON.stringify({ dead, entries }),
      JSON.stringify(failed.map((j) => ({ reason: j.failedReason, stack: j.stacktrace }))),
      dlq.stdout + dlq.stderr,
      show.stdout + show.stderr,
      stored,
    ],
  };
}

function expectNoSecret(texts: string[], codes: string[], secrets: string[]) {
  for (const text of texts) {
    for (const code of codes) expect(text).not.toContain(code);
    expect(text).not.toMatch(CODE_SHAPE);
    for (const secret of secrets) expect(text).not.toContain(secret);
  }
}

describe('issue 14 secrets: an SMTP server or webhook receiver echoing the code in its refusal', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('an SMTP 550 quoting the message: the reply shows why, the code is nowhere', async () => {
    const smtp = await startSmtpReceiver();
    closers.push(() => smtp.close());
    const h = await startHarness({ env: { SMTP_URL: smtp.url, MAIL_FROM: 'passes@example.test' } });
    closers.push(() => h.close());
    await h.startWorkers();
    smtp.echoNext(2);
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'email' }, roster(2));
    await h.waitForRun(run.runId);
    const codes = h.sim.credentials().map((c) => c.invitation_code ?? '');
    expect(codes).toHaveLength(2);
    expect(smtp.messages).toHaveLength(0);

    const { dead, text } = await everyView(h, 'delivery-email', run.runId);
    expect(dead).toHaveLength(2);
    for (const d of dead) {
      expect(d.code).toBe('email_rejected');
      // The server's words are kept (so an operator sees why), the code in them is not.
      expect(d.message).toContain('SMTP 550: Message refused as spam');
      expect(d.message).toContain('[REDACTED]');
    }
    expectNoSecret(text, codes, [h.sim.accessToken]);
  }, 90_000);

  it('a webhook receiver answering 422 with the body it got: the reply shows why, the code and secret are nowhere', async () => {
    const echo = await startEchoWebhook();
    closers.push(() => echo.close());
    const h = await startHarness({ env: { DELIVERY_WEBHOOK_URL: echo.url } });
    closers.push(() => h.close());
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, roster(2));
    await h.waitForRun(run.runId);
    const codes = h.sim.credentials().map((c) => c.invitation_code ?? '');
    expect(codes).toHaveLength(2);
    expect(echo.refused()).toBe(2);

    const { dead, text } = await everyView(h, 'delivery-webhook', run.runId);
    expect(dead).toHaveLength(2);
    for (const d of dead) {
      expect(d.code).toBe('webhook_rejected');
      expect(d.message).toContain('HTTP 422: {"error":"unprocessable delivery"');
      expect(d.message).toContain('[REDACTED]');
    }
    expectNoSecret(text, codes, [h.sim.accessToken, h.env.DELIVERY_WEBHOOK_SECRET ?? 'unset']);
  }, 90_000);
});
