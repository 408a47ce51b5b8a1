import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One message the fake provider accepted. */
export interface FakeSmsMessage {
  to: string;
  from: string;
  body: string;
  sid: string;
}

/** A local HTTP endpoint with the Twilio Messages API shape, for SMS delivery tests. */
export interface FakeSms {
  readonly url: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly messages: FakeSmsMessage[];
  /** Every request seen, including rejected ones (status answered). */
  readonly requests: { path: string; status: number }[];
  /** Answer the next `count` requests with `status` (and a Twilio-style error body). */
  failNext(status: number, count?: number): void;
  /** Answer the next `count` requests 400 with Twilio's wording, quoting the text it was sent. */
  echoNext(count?: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeSms(
  options: { accountSid?: string; authToken?: string } = {},
): Promise<FakeSms> {
  const accountSid = options.accountSid ?? `AC${randomUUID().replace(/-/g, '')}`;
  const authToken = options.authToken ?? randomUUID();
  const messages: FakeSmsMessage[] = [];
  const requests: { path: string; status: number }[] = [];
  const failures: number[] = [];
  let echoes = 0;
  const expectedAuth = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const path = req.url ?? '';
      const answer = (status: number, payload: unknown) => {
        requests.push({ path, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      };
      if (req.method !== 'POST' || path !== `/2010-04-01/Accounts/${accountSid}/Messages.json`) {
        return answer(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
      }
      if (req.headers.authorization !== expectedAuth) {
        return answer(401, { code: 20003, message: 'Authentication Error', status: 401 });
      }
      const failure = failures.shift();
      if (failure !== undefined)
        return answer(failure, { code: 20500, message: 'Injected failure', status: failure });
      if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
        return answer(400, { code: 21000, message: 'Expected a form body', status: 400 });
      }
      const form = new URLSearchParams(body);
      const to = form.get('To') ?? '';
      const from = form.get('From') ?? '';
      const text = form.get('Body') ?? '';
      if (echoes > 0) {
        echoes -= 1;
        return answer(400, { code: 30007, message: `The message '${text}' could not be sent`, status: 400 });
      }
      if (!/^\+[1-9]\d{6,14}$/.test(to)) {
        return answer(400, {
          code: 21211,
          message: "The 'To' number is not a valid phone number.",
          status: 400,
        });
      }
      if (!from || !text)
        return answer(400, { code: 21602, message: 'Message body is required.', status: 400 });
      const sid = `SM${randomUUID().replace(/-/g, '')}`;
      messages.push({ to, from, body: text, sid });
      answer(201, { sid, status: 'queued', to, from, body: text, account_sid: accountSid });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    accountSid,
    authToken,
    messages,
    requests,
    echoNext(count = 1) {
      echoes += count;
    },
    failNext(status, count = 1) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
