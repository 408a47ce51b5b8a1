import type { Command } from 'commander';
import { withPipelineCommand } from '../app/pipeline.ts';
import { EXIT } from './exit-codes.ts';

/**
 * `auth status [--json]`: whether DoorFlow access is healthy or paused fleet-wide, since when and
 * why (never a token). `auth set-token [--access-token]`: reads a new refresh token (or, with
 * `--access-token`, an access token) from stdin, stores it encrypted in the shared token hash and
 * lifts the pause; waiting jobs resume on their next look.
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').trim();
}

export function registerAuthCommand(program: Command): void {
  const auth = program.command('auth').description('DoorFlow authorisation: status and token replacement');
  auth
    .command('status')
    .description('Is DoorFlow access healthy or paused (since when, why)?')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      await withPipelineCommand(async (pipeline) => {
        const pause = await pipeline.doorflow().authPause();
        const view = pause
          ? {
              state: 'paused',
              since: new Date(pause.since).toISOString(),
              kind: pause.kind,
              upstreamCode: pause.upstreamCode,
              reason: pause.reason,
            }
          : { state: 'healthy' };
        if (options.json) console.log(JSON.stringify(view, null, 2));
        else if (pause)
          console.log(`DoorFlow access PAUSED since ${view.since} (${pause.upstreamCode}): ${pause.reason}`);
        else console.log('DoorFlow access healthy');
        return pause ? EXIT.failure : EXIT.ok;
      });
    });
  auth
    .command('set-token')
    .description('Read a new DoorFlow refresh token from stdin, store it encrypted and lift the auth pause')
    .option('--access-token', 'the token on stdin is an access token, not a refresh token')
    .action(async (options: { accessToken?: boolean }) => {
      const value = await readStdin();
      if (!value || /\s/.test(value)) {
        console.error('error: give exactly one token on stdin');
        process.exitCode = EXIT.usage;
        return;
      }
      await withPipelineCommand(async (pipeline) => {
        await pipeline.doorflow().replaceToken(options.accessToken ? { access: value } : { refresh: value });
        console.log(
          `stored the new ${options.accessToken ? 'access' : 'refresh'} token; DoorFlow access resumed`,
        );
        return EXIT.ok;
      });
    });
}
