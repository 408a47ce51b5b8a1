import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A real local SMTP server that keeps every message it receives, parsed. */
export interface SmtpReceiver {
  /** `smtp://127.0.0.1:PORT` (plain, no auth) for `SMTP_URL`. */
  readonly url: string;
  readonly messages: ParsedMail[];
  /** Raw RFC 5322 source of every message, in order. */
  readonly raw: string[];
  /** Reject the next `count` RCPT TO commands with this SMTP code (e.g. 450, 550). */
  rejectNext(code: number, count?: number): void;
  /** Reject the next `count` messages at end of DATA with 550, quoting the text it was sent. */
  echoNext(count?: number): void;
  /** Resolves once `count` messages have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const messages: ParsedMail[] = [];
  const raw: string[] = [];
  const rejections: number[] = [];
  let echoes = 0;
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      const code = rejections.shift();
      if (code === undefined) return callback();
      callback(Object.assign(new Error(`Injected ${code}`), { responseCode: code }));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const source = Buffer.concat(chunks);
        simpleParser(source, { keepCidLinks: true }).then(
          (parsed) => {
            if (echoes > 0) {
              echoes -= 1;
              const quoted = (parsed.text ?? '').replace(/\s+/g, ' ').trim();
              const refusal = new Error(`Message refused as spam: '${quoted}'`);
              return callback(Object.assign(refusal, { responseCode: 550 }));
            }
            raw.push(source.toString('utf8'));
            messages.push(parsed);
            for (const w of waiters.splice(0)) w();
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  // A client that dies mid-dialogue (a SIGKILLed worker) resets its connection: a real server
  // logs that and carries on (a message whose DATA never ended is dropped).
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    raw,
    echoNext(count = 1) {
      echoes += count;
    },
    rejectNext(code, count = 1) {
      for (let i = 0; i < count; i++) rejections.push(code);
    },
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} emails, got ${messages.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return messages.slice(0, count);
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
