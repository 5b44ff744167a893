// Entry point of the `nas` command line.

import { Command, CommanderError } from 'commander';
import { dataDir, setDataDir } from '../config/paths.ts';
import { registerArchCommand } from './arch.ts';
import { registerExportCommand } from './export.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerLatencyCommand } from './latency.ts';
import { registerProfileCommand } from './profile.ts';
import { reportError, UsageError } from './errors.ts';
import { registerTrainCommand } from './train.ts';
import { registerTrainExportCommand } from './train-export.ts';
import { registerServeCommand } from './serve.ts';
import { registerModelsCommand } from './models.ts';
import { registerSearchCommand } from './search.ts';
import { registerWorkerCommand } from './worker.ts';
import { registerAdminCommand } from './admin.ts';
import { registerRunCommand } from './run.ts';
import { registerSupernetCommand } from './supernet.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('nas')
    .description('hardware-aware neural architecture search for mobile image classifiers')
    .version('0.1.0')
    .option('--data-dir <dir>', 'data directory: dataset cache, outputs, measured tables, calibrations (default: $NAS_DATA_DIR or ~/.mobile-nas)')
    .showHelpAfterError(false)
    .exitOverride();
  program.hook('preAction', (cmd) => {
    const dir = cmd.opts<{ dataDir?: string }>().dataDir;
    if (dir === undefined) return;
    if (dir.trim() === '') throw new UsageError('--data-dir needs a directory');
    setDataDir(dir);
    // worker processes (training pool, job workers) inherit it
    process.env.NAS_DATA_DIR = dataDir();
  });
  registerArchCommand(program);
  registerExportCommand(program);
  registerDoctorCommand(program);
  registerLatencyCommand(program);
  registerProfileCommand(program);
  registerTrainCommand(program);
  registerTrainExportCommand(program);
  registerServeCommand(program);
  registerModelsCommand(program);
  registerSearchCommand(program);
  registerWorkerCommand(program);
  registerAdminCommand(program);
  registerRunCommand(program);
  registerSupernetCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    // An action may report a failure through process.exitCode; honour it
    // (failures should rather throw CommandFailed, see errors.ts).
    const code = Number(process.exitCode ?? 0);
    return Number.isInteger(code) && code !== 0 ? code : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (help, version or a usage error)
      return e.exitCode === 0 ? 0 : 2;
    }
    return reportError(e);
  }
}

const isEntry = process.argv[1] !== undefined && /(?:main\.[jt]s|nas(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
