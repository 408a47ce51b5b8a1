/**
 * The few fields the hooks around a step read from a job's raw data, before (or without) the
 * payload being parsed: a job whose payload is invalid still needs its run and key to be
 * dead-lettered, and lifecycle jobs carry no run at all.
 */
export interface JobFields {
  runId: string | undefined;
  key: string | undefined;
  /** Replay generation (0 on the first pass). */
  gen: number;
  personId: number | undefined;
  credentialId: string | undefined;
}

function field(data: unknown, name: string): unknown {
  return typeof data === 'object' && data !== null ? Reflect.get(data, name) : undefined;
}

export function jobFields(data: unknown): JobFields {
  const runId = field(data, 'runId');
  const key = field(data, 'key');
  const personId = field(data, 'personId');
  const credentialId = field(data, 'credentialId');
  return {
    runId: typeof runId === 'string' ? runId : undefined,
    key: typeof key === 'string' ? key : undefined,
    gen: Number(field(data, 'gen') ?? 0),
    personId: typeof personId === 'number' ? personId : undefined,
    credentialId: typeof credentialId === 'string' ? credentialId : undefined,
  };
}
