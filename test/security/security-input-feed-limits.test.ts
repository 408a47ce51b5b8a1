import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import got from 'got';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJson, jsonDepthBeyond } from '../../src/producers/sources/feed-http.ts';

/**
 * Issue 14, unbounded input: a feed page is read with a 20 MB byte cap and a 64-level nesting cap,
 * each ending in one clear error rather than hundreds of MB of RSS or a stack overflow. A real
 * HTTP server sends the pages.
 */
describe('feed pages: byte and nesting caps', () => {
  let server: Server;
  let base: string;
  let bytesSent = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/huge') {
        // Chunked, no content-length: the cap must count bytes as they come.
        const record = `${JSON.stringify({ id: 'x'.repeat(1000), first_name: 'A', last_name: 'B' })},`;
        const chunk = Buffer.from(record.repeat(1000));
        res.write('{"people":[');
        let sent = 0;
        const pump = () => {
          while (sent < 200) {
            sent++;
            bytesSent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end('{}]}');
        };
        res.on('close', () => {
          sent = 1e9;
        });
        pump();
      } else if (req.url === '/deep') {
        res.end(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
      } else {
        res.end(JSON.stringify({ people: [{ id: '1', note: 'a "[[[" in a string is not nesting' }] }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('stops reading a page past 20 MB with one clear error', async () => {
    await expect(fetchJson(got, `${base}/huge`, {}, 'HRIS feed')).rejects.toThrow(
      /HRIS feed: .*\/huge sent a page larger than 20 MB; ask the HR system for smaller pages/,
    );
    // The server was stopped well short of the ~200 MB it would have sent.
    expect(bytesSent).toBeLessThan(60 * 1024 * 1024);
  });

  it('refuses JSON nested deeper than 64 levels before parsing it', async () => {
    await expect(fetchJson(got, `${base}/deep`, {}, 'HRIS feed')).rejects.toThrow(
      /sent JSON nested deeper than 64 levels \(at byte 64\)/,
    );
  });

  it('reads a normal page; brackets inside strings do not count as nesting', async () => {
    const { body } = await fetchJson(got, `${base}/ok`, {}, 'HRIS feed');
    expect(body).toEqual({ people: [{ id: '1', note: 'a "[[[" in a string is not nesting' }] });
    expect(jsonDepthBeyond('{"a":"\\"[[["}', 1)).toBeUndefined();
    expect(jsonDepthBeyond('[[1]]', 1)).toEqual({ at: 1 });
  });
});
