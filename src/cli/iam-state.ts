/** The CLI's one way to read the IAM state (seed + stored changes): bad state files are one-line errors. */
import { StateFileError, openIamState, type LiveIam } from '../iam-api/index.js';
import type { Logger } from '../log.js';
import type { StsConfig } from '../sts/config.js';
import { CliError, EXIT_FAILED, inContext } from './errors.js';

export async function liveState(seed: StsConfig, logger?: Logger): Promise<LiveIam> {
  try {
    return await openIamState(seed, { logger });
  } catch (err) {
    if (err instanceof StateFileError) throw new CliError(`invalid IAM state: ${err.message}`);
    throw inContext('cannot open the IAM state: ', err, EXIT_FAILED);
  }
}

/** The config as the IAM API left it, read once (explain, lint). */
export async function liveConfigOf(seed: StsConfig): Promise<StsConfig> {
  if (!seed.iamApi) return seed;
  const live = await liveState(seed);
  const config = live.config();
  await live.stop();
  return config;
}
