import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake HR system on 127.0.0.1 serving BambooHR's documented shapes, a generic JSON feed (three
 * pagination styles) and a CSV roster, with injectable faults (5xx, slow answers, truncated
 * bodies) chosen per request.
 */

export interface FakeEmployee {
  id: number;
  employeeNumber: string | null;
  firstName: string;
  lastName: string;
  workEmail: string | null;
  mobilePhone?: string | null;
  department?: string | null;
  jobTitle?: string | null;
  status: 'Active' | 'Inactive';
  hireDate?: string;
  terminationDate?: string;
  lastChanged?: string;
}

export interface Fault {
  status?: number;
  /** Send half the body, then destroy the socket (Content-Length promises the whole). */
  truncate?: boolean;
  delayMs?: number;
}

export interface FakeHrisOptions {
  company?: string;
  apiKey?: string;
  employees: FakeEmployee[];
  /** Page size for the JSON feeds. Default 100. */
  pageSize?: number;
  /** Chosen per request; `n` counts requests from 1. */
  fault?: (request: { path: string; n: number }) => Fault | undefined;
  /** When set, the JSON feeds require `Authorization: Bearer <feedToken>` (401 otherwise). */
  feedToken?: string;
}

export interface FakeHris {
  url: string;
  requests: { method: string; path: string; auth: string | undefined; accept: string | undefined }[];
  setFault(fault: FakeHrisOptions['fault']): void;
  close(): Promise<void>;
}

function feedRecord(e: FakeEmployee) {
  return {
    employee: { id: e.employeeNumber, active: e.status === 'Active' },
    name: { first: e.firstName, last: e.lastName },
    contact: { email: e.workEmail, mobile: e.mobilePhone ?? null },
    org: { department: e.department ?? null, title: e.jobTitle ?? null },
  };
}

function csvRoster(employees: FakeEmployee[]): string {
  const rows = employees.map((e) =>
    [e.employeeNumber ?? '', e.firstName, e.lastName, e.workEmail ?? '', e.department ?? '', e.status].join(
      ',',
    ),
  );
  return `Employee Number,First Name,Last Name,Work Email,Department,Status\n${rows.join('\n')}\n`;
}

export async function startFakeHris(options: FakeHrisOptions): Promise<FakeHris> {
  const company = options.company ?? 'acme';
  const apiKey = options.apiKey ?? 'bamboo-key';
  const pageSize = options.pageSize ?? 100;
  let fault = options.fault;
  let n = 0;
  const requests: FakeHris['requests'] = [];

  const send = async (
    res: ServerResponse,
    status: number,
    body: string,
    type: string,
    f: Fault | undefined,
    headers: Record<string, string> = {},
  ) => {
    if (f?.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    if (res.destroyed) return;
    const bytes = Buffer.from(body);
    res.writeHead(f?.status ?? status, {
      'content-type': type,
      'content-length': String(bytes.length),
      ...headers,
    });
    if (f?.truncate) {
      res.write(bytes.subarray(0, Math.floor(bytes.length / 2)));
      setTimeout(() => res.socket?.destroy(), 10);
      return;
    }
    res.end(f?.status ? '{"error":"injected"}'.padEnd(bytes.length, ' ') : bytes);
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    n += 1;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    requests.push({
      method: req.method ?? 'GET',
      path: `${path}${url.search}`,
      auth: req.headers.authorization,
      accept: req.headers.accept,
    });
    const f = fault?.({ path: `${path}${url.search}`, n });
    for await (const _ of req) {
      // drain the body
    }
    const json = (body: unknown, headers: Record<string, string> = {}) =>
      send(res, 200, JSON.stringify(body), 'application/json', f, headers);

    const bamboo = `/api/gateway.php/${company}/v1`;
    if (path.startsWith(bamboo)) {
      const expected = `Basic ${Buffer.from(`${apiKey}:x`).toString('base64')}`;
      if (req.headers.authorization !== expected)
        return send(res, 401, '{"error":"unauthorized"}', 'application/json', undefined);
      if (!String(req.headers.accept).includes('application/json'))
        return send(res, 406, 'xml only', 'text/plain', undefined);
      const rest = path.slice(bamboo.length);
      if (req.method === 'POST' && rest === '/reports/custom') {
        return json({
          title: 'doorflow-provisioner roster',
          fields: [{ id: 'employeeNumber', type: 'text', name: 'Employee #' }],
          employees: options.employees.map(({ lastChanged: _l, ...e }) => ({ ...e, id: String(e.id) })),
        });
      }
      if (rest === '/employees/changed') {
        const since = url.searchParams.get('since') ?? '';
        const changed = options.employees.filter((e) => (e.lastChanged ?? '') >= since);
        return json({
          latest: new Date().toISOString(),
          employees: Object.fromEntries(
            changed.map((e) => [
              String(e.id),
              { id: String(e.id), action: 'Updated', lastChanged: e.lastChanged },
            ]),
          ),
        });
      }
      const one = /^\/employees\/(\d+)$/.exec(rest);
      if (one) {
        const e = options.employees.find((x) => String(x.id) === one[1]);
        if (!e) return send(res, 404, '{}', 'application/json', f);
        const { lastChanged: _l, ...rest2 } = e;
        return json({ ...rest2, id: String(e.id) });
      }
      return send(res, 404, '{}', 'application/json', f);
    }
    const active = options.employees;
    if (
      path.startsWith('/feed/') &&
      options.feedToken &&
      req.headers.authorization !== `Bearer ${options.feedToken}`
    ) {
      return send(res, 401, '{"error":"unauthorized"}', 'application/json', undefined);
    }
    if (path === '/feed/pages') {
      const page = Number(url.searchParams.get('page') ?? '1');
      const size = Number(url.searchParams.get('per_page') ?? pageSize);
      return json({ data: { people: active.slice((page - 1) * size, page * size).map(feedRecord) } });
    }
    if (path === '/feed/next') {
      const cursor = Number(url.searchParams.get('cursor') ?? '0');
      const slice = active.slice(cursor, cursor + pageSize).map(feedRecord);
      const more = cursor + pageSize < active.length;
      return json({
        data: { people: slice },
        links: { next: more ? `/feed/next?cursor=${cursor + pageSize}` : null },
      });
    }
    if (path === '/feed/link') {
      const page = Number(url.searchParams.get('p') ?? '1');
      const slice = active.slice((page - 1) * pageSize, page * pageSize).map(feedRecord);
      const more = page * pageSize < active.length;
      const headers: Record<string, string> = more
        ? { link: `</feed/link?p=${page + 1}>; rel="next", </feed/link?p=1>; rel="first"` }
        : {};
      return json(slice, headers);
    }
    if (path === '/roster.csv') return send(res, 200, csvRoster(active), 'text/csv', f);
    return send(res, 404, 'not found', 'text/plain', undefined);
  };

  const server: Server = createServer((req, res) => {
    handler(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setFault(next) {
      fault = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `count` employees HR-0001…, all active, with plausible fields. */
export function fakeEmployees(count: number, from = 1): FakeEmployee[] {
  return Array.from({ length: count }, (_, i) => {
    const k = from + i;
    return {
      id: 1000 + k,
      employeeNumber: `HR-${String(k).padStart(4, '0')}`,
      firstName: `First${k}`,
      lastName: `Last${k}`,
      workEmail: `emp${k}@example.com`,
      mobilePhone: null,
      department: 'Ops',
      jobTitle: 'Staff',
      status: 'Active',
      hireDate: '2020-01-01',
      terminationDate: '0000-00-00',
      lastChanged: '2026-01-01T00:00:00Z',
    };
  });
}
