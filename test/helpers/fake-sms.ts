import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One message the fake provider accepted. */
export interface FakeSmsMessage {
  to: string;
  from: string;
  body: string;
  sid: string;
  /** When accepted (ms); listed as Twilio's RFC 2822 `date_created`, whole seconds. */
  at: number;
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
      const [pathname = '', query = ''] = path.split('?');
      const messagesPath = `/2010-04-01/Accounts/${accountSid}/Messages.json`;
      if (req.method === 'GET' && pathname === messagesPath) {
        // Twilio's message log: filtered by To/From, newest first, one page of PageSize.
        if (req.headers.authorization !== expectedAuth) {
          return answer(401, { code: 20003, message: 'Authentication Error', status: 401 });
        }
        const failed = failures.shift();
        if (failed !== undefined)
          return answer(failed, { code: 20500, message: 'Injected failure', status: failed });
        const q = new URLSearchParams(query);
        const size = Math.min(1000, Number(q.get('PageSize') ?? '50') || 50);
        const page = messages
          .filter(
            (m) => (!q.get('To') || m.to === q.get('To')) && (!q.get('From') || m.from === q.get('From')),
          )
          .reverse()
          .slice(0, size)
          .map((m) => ({
            sid: m.sid,
            to: m.to,
            from: m.from,
            body: m.body,
            status: 'sent',
            date_created: new Date(m.at).toUTCString().replace('GMT', '+0000'),
          }));
        return answer(200, { messages: page, page: 0, page_size: size, next_page_uri: null });
      }
      if (req.method !== 'POST' || path !== messagesPath) {
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
      messages.push({ to, from, body: text, sid, at: Date.now() });
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
