import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/core/config.ts';
import { silentLogger } from '../../src/lib/core/logger.ts';
import { createDoorFlowClient } from '../../src/lib/doorflow/client.ts';
import { RedisKeys } from '../../src/lib/store/keys.ts';
import { intake } from '../../src/producers/intake.ts';
import { JsonFeedAdapter, parseFeedMapping } from '../../src/producers/sources/json-feed.ts';
import { type Harness, roster, startHarness } from '../helpers/pipeline.ts';
import { testRedis, uniquePrefix } from '../helpers/redis.ts';

/** A real local HTTP listener recording every request it gets. */
interface Listener {
  url: string;
  seen: { url: string; headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

async function listen(
  answer: (path: string, res: import('node:http').ServerResponse) => void,
): Promise<Listener> {
  const seen: Listener['seen'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(req.url ?? '', res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The other host a redirect or next link points at: answers 200 to anything, and must get nothing. */
const elsewhere = () =>
  listen((_path, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}'));
const redirectingTo = (target: string, status = 307) =>
  listen((path, res) => res.writeHead(status, { location: `${target}${path}` }).end());

describe('issue 14 outbound requests: no credential or code follows a redirect or a foreign next link', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('the delivery webhook follows no redirect: a 307 is a failed delivery with its reason, the other host gets nothing', async () => {
    const other = await elsewhere();
    closers.push(other.close);
    const redirector = await redirectingTo(other.url);
    closers.push(redirector.close);
    const h: Harness = await startHarness({
      env: { DELIVERY_WEBHOOK_URL: `${redirector.url}/hook`, JOB_ATTEMPTS: '2' },
    });
    closers.push(() => h.close());
    await h.startWorkers();
    const run = await intake(h.pipeline.intakeDeps(), { source: 'test', delivery: 'webhook' }, roster(2));
    const finished = await h.waitForRun(run.runId);
    expect(redirector.seen.length).toBeGreaterThanOrEqual(2);
    expect(other.seen).toHaveLength(0);
    expect(finished.counts.provisioned ?? 0).toBe(0);
    const dead = await h.pipeline.deadLetters.list();
    expect(dead).toHaveLength(2);
    for (const d of dead) {
      expect(d.code).toBe('webhook_redirected');
      expect(d.message).toContain('307');
    }
    expect(await h.pipeline.stores.deliveries.find(h.sim.credentials()[0]?.id ?? '', 'webhook')).toBeFalsy();
  });

  it("JSON feed pagination follows a next link only on the feed's origin: the other origin gets no request and no header", async () => {
    const other = await elsewhere();
    closers.push(other.close);
    const feed = await listen((path, res) => {
      const page =
        path === '/people'
          ? { data: [{ id: 'E1', first: 'Ada', last: 'Lovelace' }], next: '/people?page=2' }
          : { data: [{ id: 'E2', first: 'Alan', last: 'Turing' }], next: `${other.url}/steal?page=3` };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page));
    });
    closers.push(feed.close);
    const adapter = new JsonFeedAdapter({
      url: `${feed.url}/people`,
      headers: { authorization: 'Bearer feed-secret-token' },
      retries: 0,
      mapping: parseFeedMapping({
        system_id: 'id',
        first_name: 'first',
        last_name: 'last',
        records: 'data',
        next: 'next',
      }),
    });
    const read = async () => {
      for await (const _item of adapter.fetchRoster({})) {
        // drain
      }
    };
    await expect(read()).rejects.toMatchObject({ code: 'source_failed' });
    // Same-origin pages were followed, with the header.
    expect(feed.seen.map((s) => s.url)).toEqual(['/people', '/people?page=2']);
    expect(feed.seen[1]?.headers.authorization).toBe('Bearer feed-secret-token');
    expect(other.seen).toHaveLength(0);
  });

  it('the DoorFlow client follows no redirect with its bearer token', async () => {
    const other = await elsewhere();
    closers.push(other.close);
    const redirector = await redirectingTo(other.url, 302);
    closers.push(redirector.close);
    const redis = testRedis();
    closers.push(async () => {
      await redis.quit();
    });
    const config = loadConfig({
      DOORFLOW_BASE_URL: redirector.url,
      DOORFLOW_ACCESS_TOKEN: 'doorflow-bearer-secret',
      DOORFLOW_TIMEOUT_MS: '5000',
    });
    const client = createDoorFlowClient({
      config: config.doorflow,
      redis,
      keys: new RedisKeys(uniquePrefix('redir')),
      logger: silentLogger(),
    });
    closers.push(() => client.close());
    await expect(client.getPerson(1)).rejects.toThrow();
    expect(redirector.seen.length).toBeGreaterThanOrEqual(1);
    expect(redirector.seen[0]?.headers.authorization).toBe('Bearer doorflow-bearer-secret');
    expect(other.seen).toHaveLength(0);
  });
});
