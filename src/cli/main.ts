// Entry point of the `nas` command line.

import { Command, CommanderError } from 'commander';
import { registerArchCommand } from './arch.ts';
import { registerExportCommand } from './export.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerLatencyCommand } from './latency.ts';
import { registerProfileCommand } from './profile.ts';
import { reportError } from './errors.ts';
import { registerTrainCommand } from './train.ts';
import { registerPipelineCommand } from './pipeline.ts';
import { registerServeCommand } from './serve.ts';
import { registerSearchCommand } from './search.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('nas')
    .description('hardware-aware neural architecture search for mobile image classifiers')
    .version('0.1.0')
    .showHelpAfterError(false)
    .exitOverride();
  registerArchCommand(program);
  registerExportCommand(program);
  registerDoctorCommand(program);
  registerLatencyCommand(program);
  registerProfileCommand(program);
  registerTrainCommand(program);
  registerPipelineCommand(program);
  registerServeCommand(program);
  registerSearchCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (help, version or a usage error)
      return e.exitCode === 0 ? 0 : 2;
    }
    return reportError(e);
  }
}

const isEntry = process.argv[1] !== undefined && /(?:main\.ts|nas(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
