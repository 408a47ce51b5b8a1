import { Readable } from 'node:stream';
import addressparser from 'nodemailer/lib/addressparser';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SendGate } from './channel.ts';

/**
 * One message over one SMTP connection, with a point of no return the caller can mark: the
 * message body goes out after the server's `354`, and the final `<CRLF>.<CRLF>` (after which the
 * server may keep the message) only once `gate.commit()` has resolved. A server drops a message
 * whose DATA never ended, so an attempt that dies before the commit cannot have reached anyone.
 * (nodemailer's transport composes and buffers the whole message before the SMTP dialogue, so
 * this speaks through its SMTPConnection directly.)
 */

export interface SmtpSendOptions {
  url: string;
  timeoutMs: number;
  envelope: { from: string; to: string };
  mail: Mail.Options;
  gate?: SendGate | undefined;
  signal?: AbortSignal | undefined;
}

export interface SmtpSent {
  messageId: string;
  accepted: (string | Mail.Address)[];
  rejected: (string | Mail.Address)[];
}

function compose(mail: Mail.Options): Promise<{ message: Buffer; messageId: string }> {
  const node = new MailComposer(mail).compile();
  return new Promise((resolve, reject) => {
    node.build((err, message) => (err ? reject(err) : resolve({ message, messageId: node.messageId() })));
  });
}

/** The message, then (on the next read, after commit) its end. Read only once DATA is open. */
function gated(message: Buffer, gate: SendGate | undefined): Readable {
  let pushed = false;
  return new Readable({
    highWaterMark: 1,
    read() {
      if (!pushed) {
        pushed = true;
        this.push(message);
        return;
      }
      if (!gate) {
        this.push(null);
        return;
      }
      gate.commit().then(
        () => this.push(null),
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
}

/** The bare address of a header value (`Access Team <access@example.com>` → `access@example.com`). */
function bareAddress(value: string): string {
  return addressparser(value, { flatten: true })[0]?.address ?? value;
}

export async function smtpSend(o: SmtpSendOptions): Promise<SmtpSent> {
  const { message, messageId } = await compose(o.mail);
  const target = parseConnectionUrl(o.url);
  const connection = new SMTPConnection({
    ...target,
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: o.timeoutMs,
  });
  return await new Promise<SmtpSent>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      connection.close();
      end(Object.assign(new Error('SMTP send aborted'), { code: 'EABORT' }));
    };
    const end = (err: unknown, sent?: SmtpSent) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      if (err || !sent) {
        connection.close();
        reject(err);
      } else {
        connection.quit();
        resolve(sent);
      }
    };
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    connection.once('error', (err) => end(err));
    connection.connect((err) => {
      if (err) return end(err);
      const send = () =>
        connection.send(
          { from: bareAddress(o.envelope.from), to: [bareAddress(o.envelope.to)] },
          gated(message, o.gate),
          (e, info) =>
            e ? end(e) : end(undefined, { messageId, accepted: info.accepted, rejected: info.rejected }),
        );
      if (!target.auth) return send();
      connection.login(target.auth, (e) => (e ? end(e) : send()));
    });
  });
}
