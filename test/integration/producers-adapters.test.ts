import { afterEach, describe, expect, it } from 'vitest';
import { isRowProblem, type RosterAdapter, type SourceItem } from '../../src/producers/sources/adapter.ts';
import { BambooHrAdapter } from '../../src/producers/sources/bamboohr.ts';
import { CsvSourceAdapter } from '../../src/producers/sources/csv-source.ts';
import { JsonFeedAdapter, parseFeedMapping } from '../../src/producers/sources/json-feed.ts';
import { type FakeHris, fakeEmployees, startFakeHris } from '../helpers/fake-hris.ts';

let hris: FakeHris | undefined;
afterEach(async () => {
  await hris?.close();
  hris = undefined;
});

async function collect(adapter: RosterAdapter, since?: string): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const item of adapter.fetchRoster(since ? { since } : {})) items.push(item);
  return items;
}

const mapping = (extra: Record<string, unknown>) =>
  parseFeedMapping({
    system_id: 'employee.id',
    first_name: 'name.first',
    last_name: 'name.last',
    email: 'contact.email',
    department: 'org.department',
    job_title: 'org.title',
    active: 'employee.active',
    records: 'data.people',
    ...extra,
  });

const fast = { timeoutMs: 2_000, retries: 1 };

describe('BambooHR adapter', () => {
  it('reads the custom report with Basic auth (key:x) and JSON, mapping status and termination dates', async () => {
    const employees = fakeEmployees(250);
    employees[3] = { ...employees[3]!, status: 'Inactive', terminationDate: '2025-12-31' };
    employees[4] = { ...employees[4]!, hireDate: '2999-01-01' };
    employees[5] = { ...employees[5]!, employeeNumber: null };
    hris = await startFakeHris({ employees });
    const adapter = new BambooHrAdapter({
      company: 'acme',
      apiKey: 'bamboo-key',
      baseUrl: hris.url,
      ...fast,
    });
    const items = await collect(adapter);
    expect(items).toHaveLength(250);
    const entries = items.filter((i) => !isRowProblem(i));
    expect(entries[0]).toMatchObject({
      key: 'sid:HR-0001',
      first_name: 'First1',
      email: 'emp1@example.com',
      department: 'Ops',
      job_title: 'Staff',
      active: true,
    });
    expect(items[3]).toMatchObject({ system_id: 'HR-0004', active: false });
    expect(items[4]).toMatchObject({
      kind: 'problem',
      key: 'sid:HR-0005',
      reason: 'starts on 2999-01-01: not provisioned yet',
    });
    expect(items[5]).toMatchObject({ key: 'email:emp6@example.com' });
    expect(hris.requests[0]).toMatchObject({
      method: 'POST',
      path: '/api/gateway.php/acme/v1/reports/custom?format=JSON&onlyCurrent=false',
      auth: `Basic ${Buffer.from('bamboo-key:x').toString('base64')}`,
    });
    expect(hris.requests[0]?.accept).toContain('application/json');
    expect(adapter.metadata().complete).toBe(true);
  });

  it('--since reads changed employees, then each employee, and is not a complete roster', async () => {
    const employees = fakeEmployees(30);
    for (const e of employees.slice(0, 12)) e.lastChanged = '2026-03-01T00:00:00Z';
    hris = await startFakeHris({ employees });
    const adapter = new BambooHrAdapter({
      company: 'acme',
      apiKey: 'bamboo-key',
      baseUrl: hris.url,
      ...fast,
    });
    const items = await collect(adapter, '2026-02-01T00:00:00Z');
    expect(items).toHaveLength(12);
    expect(hris.requests[0]?.path).toBe(
      '/api/gateway.php/acme/v1/employees/changed?since=2026-02-01T00%3A00%3A00Z',
    );
    expect(
      hris.requests.slice(1).every((r) => /\/employees\/\d+\?fields=employeeNumber,firstName/.test(r.path)),
    ).toBe(true);
    expect(adapter.metadata().complete).toBe(false);
  });

  it('--since fails as a whole when one employee fetch in the middle keeps failing', async () => {
    const employees = fakeEmployees(30);
    hris = await startFakeHris({
      employees,
      fault: ({ path }) => (path.includes('/employees/1015?') ? { status: 500 } : undefined),
    });
    const adapter = new BambooHrAdapter({
      company: 'acme',
      apiKey: 'bamboo-key',
      baseUrl: hris.url,
      ...fast,
    });
    await expect(collect(adapter, '2000-01-01T00:00:00Z')).rejects.toMatchObject({
      code: 'source_failed',
      status: 500,
    });
  });

  it('fails cleanly on a wrong key, a persistent 5xx, a truncated body and a slow answer', async () => {
    hris = await startFakeHris({ employees: fakeEmployees(5) });
    const base = { company: 'acme', baseUrl: hris.url, ...fast };
    await expect(collect(new BambooHrAdapter({ ...base, apiKey: 'wrong' }))).rejects.toThrow(
      /answered HTTP 401/,
    );
    hris.setFault(() => ({ status: 503 }));
    await expect(collect(new BambooHrAdapter({ ...base, apiKey: 'bamboo-key' }))).rejects.toMatchObject({
      code: 'source_failed',
      status: 503,
    });
    hris.setFault(() => ({ truncate: true }));
    await expect(collect(new BambooHrAdapter({ ...base, apiKey: 'bamboo-key' }))).rejects.toMatchObject({
      code: 'source_failed',
    });
    hris.setFault(() => ({ delayMs: 1_500 }));
    await expect(
      collect(new BambooHrAdapter({ ...base, apiKey: 'bamboo-key', timeoutMs: 300, retries: 0 })),
    ).rejects.toThrow(/failed \(ETIMEDOUT/);
    // A slow answer inside the time-out is fine, and one transient 5xx is retried.
    hris.setFault(({ n }) => (n === 5 ? { status: 502 } : { delayMs: 200 }));
    expect(await collect(new BambooHrAdapter({ ...base, apiKey: 'bamboo-key' }))).toHaveLength(5);
  });

  it('never puts the API key in an error message', async () => {
    hris = await startFakeHris({ employees: fakeEmployees(1), fault: () => ({ status: 500 }) });
    const err = await collect(
      new BambooHrAdapter({ company: 'acme', apiKey: 'bamboo-key', baseUrl: hris.url, ...fast }),
    ).catch((e: Error) => e);
    expect(String((err as Error).message)).not.toContain('bamboo-key');
    expect(String((err as Error).message)).not.toContain(Buffer.from('bamboo-key:x').toString('base64'));
  });
});

describe('JSON feed adapter', () => {
  const employees = fakeEmployees(230);
  employees[7] = { ...employees[7]!, status: 'Inactive' };
  employees[8] = { ...employees[8]!, firstName: '' };

  it.each([
    [
      'page parameter',
      '/feed/pages',
      { page: { param: 'page', start: 1, sizeParam: 'per_page', size: 50 } },
      5,
    ],
    ['next link in the body', '/feed/next', { next: 'links.next' }, 3],
    ['Link header', '/feed/link', { records: undefined }, 3],
  ])('pages by %s', async (_name, path, extra, pages) => {
    hris = await startFakeHris({ employees });
    const adapter = new JsonFeedAdapter({ url: `${hris.url}${path}`, mapping: mapping(extra), ...fast });
    const items = await collect(adapter);
    expect(items).toHaveLength(230);
    expect(items[7]).toMatchObject({ key: 'sid:HR-0008', active: false });
    expect(items[8]).toMatchObject({
      kind: 'problem',
      line: 9,
      reason: 'first name is required',
      key: 'sid:HR-0009',
    });
    expect(items[229]).toMatchObject({
      system_id: 'HR-0230',
      department: 'Ops',
      job_title: 'Staff',
      active: true,
    });
    expect(adapter.stats().pages).toBe(pages);
  });

  it('fails when a page in the middle of the feed returns 5xx or a truncated body', async () => {
    hris = await startFakeHris({
      employees,
      fault: ({ path }) => (path.includes('cursor=100') ? { status: 500 } : undefined),
    });
    const adapter = new JsonFeedAdapter({
      url: `${hris.url}/feed/next`,
      mapping: mapping({ next: 'links.next' }),
      ...fast,
    });
    const seen: SourceItem[] = [];
    await expect(
      (async () => {
        for await (const item of adapter.fetchRoster({})) seen.push(item);
      })(),
    ).rejects.toMatchObject({ code: 'source_failed', status: 500 });
    expect(seen).toHaveLength(100);
    hris.setFault(({ path }) => (path.includes('cursor=200') ? { truncate: true } : undefined));
    await expect(
      collect(
        new JsonFeedAdapter({
          url: `${hris.url}/feed/next`,
          mapping: mapping({ next: 'links.next' }),
          ...fast,
        }),
      ),
    ).rejects.toMatchObject({ code: 'source_failed' });
  });

  it('waits for slow pages within the time-out and fails on a page slower than it', async () => {
    hris = await startFakeHris({
      employees,
      fault: ({ path }) => (path.includes('cursor=100') ? { delayMs: 300 } : undefined),
    });
    const url = `${hris.url}/feed/next`;
    expect(
      await collect(new JsonFeedAdapter({ url, mapping: mapping({ next: 'links.next' }), ...fast })),
    ).toHaveLength(230);
    hris.setFault(({ path }) => (path.includes('cursor=100') ? { delayMs: 1_500 } : undefined));
    await expect(
      collect(
        new JsonFeedAdapter({ url, mapping: mapping({ next: 'links.next' }), timeoutMs: 400, retries: 0 }),
      ),
    ).rejects.toThrow(/JSON feed page 2: .* failed \(ETIMEDOUT/);
  });

  it('rejects a mapping file with unknown fields or without names', () => {
    expect(() => parseFeedMapping({ first_name: 'a', last_name: 'b', system_id: 'c', shoe: 'd' })).toThrow(
      /"shoe" is not a roster field/,
    );
    expect(() => parseFeedMapping({ first_name: 'a', system_id: 'c' })).toThrow(/must be mapped/);
  });
});

describe('CSV source by URL', () => {
  it('downloads and parses a CSV roster, and fails on a truncated download', async () => {
    hris = await startFakeHris({ employees: fakeEmployees(40) });
    const items = await collect(new CsvSourceAdapter({ url: `${hris.url}/roster.csv`, ...fast }));
    expect(items).toHaveLength(40);
    expect(items[0]).toMatchObject({ key: 'sid:HR-0001', active: true, line: 2 });
    hris.setFault(() => ({ truncate: true }));
    await expect(
      collect(new CsvSourceAdapter({ url: `${hris.url}/roster.csv`, ...fast })),
    ).rejects.toMatchObject({ code: 'source_failed' });
    hris.setFault(() => ({ status: 500 }));
    await expect(collect(new CsvSourceAdapter({ url: `${hris.url}/roster.csv`, ...fast }))).rejects.toThrow(
      /answered HTTP 500/,
    );
    hris.setFault(() => ({ delayMs: 1_500 }));
    await expect(
      collect(new CsvSourceAdapter({ url: `${hris.url}/roster.csv`, timeoutMs: 400, retries: 0 })),
    ).rejects.toMatchObject({ code: 'source_failed' });
    hris.setFault(() => ({ delayMs: 200 }));
    expect(await collect(new CsvSourceAdapter({ url: `${hris.url}/roster.csv`, ...fast }))).toHaveLength(40);
  });
});
