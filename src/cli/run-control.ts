import type { Command } from 'commander';
import { withPipelineCommand as withPipeline } from '../app/pipeline.ts';
import { type CancelResult, cancelRun } from '../processors/services/run-cancel.ts';
import {
  describePause,
  type PauseState,
  pausePipeline,
  resumePipeline,
} from '../processors/services/pipeline-pause.ts';
import { EXIT } from './exit-codes.ts';
import { auditRequest, cliOperator } from './operator.ts';

/**
 * Run control: `runs cancel ID` stops one run; `pause` / `resume` stop and restart the whole
 * fleet's pipeline (running jobs finish either way). Each is audited with the operator.
 */

function describeCancel(r: CancelResult): string {
  if (r.mark === 'no_run') return `error: no run ${r.runId}`;
  if (r.mark === 'already_finished') return `run ${r.runId} had already finished: nothing to cancel`;
  const again = r.mark === 'already_cancelled' ? ' (it was cancelled already)' : '';
  const state = r.run?.finishedAt !== undefined ? 'cancelled' : 'cancelling';
  const lines = [
    `run ${r.runId} ${state}${again}: ${r.removed} queued step${r.removed === 1 ? '' : 's'} removed`,
  ];
  if (r.inFlight > 0) {
    lines.push(
      `  ${r.inFlight} entr${r.inFlight === 1 ? 'y is' : 'ies are'} in a running step: it finishes, then the entry ends cancelled (runs show ${r.runId})`,
    );
  }
  return lines.join('\n');
}

/** `runs cancel ID [--json]` (registered under `runs` by runs.ts). */
export function registerRunsCancelCommand(runs: Command): void {
  runs
    .command('cancel')
    .description('Stop a run: remove its queued steps, let running ones finish, end the rest cancelled')
    .argument('<id>', 'run id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: { json?: boolean }) => {
      await withPipeline(async (pipeline) => {
        const result = await cancelRun(
          { runs: pipeline.runs, runCancels: pipeline.stores.runCancels, queues: pipeline.queues },
          id,
          cliOperator(),
        );
        if (result.mark === 'marked') {
          await auditRequest(pipeline.audit, 'runs-cancel', {
            action: 'run.cancel',
            targetType: 'run',
            targetId: id,
            runId: id,
            after: { removed: result.removed, inFlight: result.inFlight },
          });
        }
        const text = describeCancel(result);
        if (options.json) console.log(JSON.stringify(result, null, 2));
        else if (result.mark === 'no_run') console.error(text);
        else console.log(text);
        return result.mark === 'no_run' ? EXIT.failure : EXIT.ok;
      });
    });
}

function printPause(state: PauseState, json: boolean | undefined): void {
  console.log(json ? JSON.stringify(state, null, 2) : describePause(state));
}

/** `pause [--json]`. */
export function registerPauseCommand(program: Command): void {
  program
    .command('pause')
    .description('Stop the whole fleet taking pipeline jobs (running ones finish); `resume` starts again')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      await withPipeline(async (pipeline) => {
        const operator = cliOperator();
        const state = await pausePipeline(
          { queues: pipeline.queues, pipelinePause: pipeline.stores.pipelinePause },
          operator,
        );
        await auditRequest(pipeline.audit, 'pause', {
          action: 'pipeline.pause',
          targetType: 'pipeline',
          targetId: 'pipeline',
          after: { queues: state.pausedQueues },
        });
        printPause(state, options.json);
        return EXIT.ok;
      });
    });
}

/** `resume [--json]`. */
export function registerResumeCommand(program: Command): void {
  program
    .command('resume')
    .description('Let the fleet take pipeline jobs again after `pause`')
    .option('--json', 'machine-readable output')
    .action(async (options: { json?: boolean }) => {
      await withPipeline(async (pipeline) => {
        const state = await resumePipeline({
          queues: pipeline.queues,
          pipelinePause: pipeline.stores.pipelinePause,
        });
        await auditRequest(pipeline.audit, 'resume', {
          action: 'pipeline.resume',
          targetType: 'pipeline',
          targetId: 'pipeline',
        });
        printPause(state, options.json);
        return EXIT.ok;
      });
    });
}
