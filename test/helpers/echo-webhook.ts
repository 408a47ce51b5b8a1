import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A delivery-webhook receiver that refuses every message with 422 and quotes the body it got (code
 * included), as a careless receiver's validation error does.
 */
export interface EchoWebhook {
  readonly url: string;
  /** How many requests it refused. */
  refused(): number;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startEchoWebhook(): Promise<EchoWebhook> {
  let refused = 0;
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      refused++;
      res
        .writeHead(422, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'unprocessable delivery', received: body }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/deliveries`,
    refused: () => refused,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
