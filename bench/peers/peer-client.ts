import { Agent } from 'node:http';
import got, { type Got } from 'got';

/**
 * What a developer writing a quick provisioning script would do with got: a client with the bearer
 * token, retries for 429 and 5xx on GET and POST honouring Retry-After (without them a rate limit
 * kills the script), and the three calls of the guide: create the person, create the HID
 * credential, read the credential back for its invitation code.
 */

export interface PeerArgs {
  baseUrl: string;
  token: string;
  hidCredentialTypeId: number;
  people: number;
  start: number;
  concurrency?: number;
}

export interface PeerResult {
  people: number;
  provisioned: number;
  failed: number;
  seconds: number;
  peoplePerSecond: number;
  retries: number;
}

export function peerClient(args: PeerArgs, onRetry: () => void): Got {
  return got.extend({
    prefixUrl: `${args.baseUrl}/api/3`,
    headers: { authorization: `Bearer ${args.token}` },
    responseType: 'json',
    // Keep-alive, as any tuned script would: the baseline should be a strong one.
    agent: { http: new Agent({ keepAlive: true, maxSockets: 256 }) },
    timeout: { request: 30_000 },
    retry: {
      limit: 20,
      methods: ['GET', 'POST'],
      statusCodes: [429, 500, 502, 503, 504],
      maxRetryAfter: 60_000,
    },
    hooks: { beforeRetry: [() => onRetry()] },
  });
}

/** The three calls for one person; resolves when the code has been read. */
export async function provisionOne(http: Got, args: PeerArgs, i: number): Promise<void> {
  const id = args.start + i;
  const person = await http
    .post('people', {
      json: {
        first_name: `First${id}`,
        last_name: `Last${id}`,
        email: `peer${id}@example.test`,
        system_id: `P${String(id).padStart(7, '0')}`,
      },
    })
    .json<{ id: number }>();
  const credential = await http
    .post(`people/${person.id}/credentials`, {
      json: { person_credential: { credential_type_id: args.hidCredentialTypeId, value: null } },
    })
    .json<{ id: string }>();
  const read = await http
    .get(`people/${person.id}/credentials/${credential.id}`)
    .json<{ invitation_code?: string }>();
  if (!read.invitation_code) throw new Error('no invitation code');
}

/** Runs `main` with the JSON argument and prints its JSON result (child-process protocol). */
export function runPeer(main: (args: PeerArgs) => Promise<PeerResult>): void {
  const args = JSON.parse(process.argv[2] ?? '{}') as PeerArgs;
  main(args).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
