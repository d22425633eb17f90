/**
 * The name to print in commands a user is told to run: what they typed to start openirsa. The repo-root launcher
 * (`./openirsa` in a clone) passes its own path in OPENIRSA_PROGRAM; the installed command is `openirsa`.
 */
export function programName(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.OPENIRSA_PROGRAM;
  return given !== undefined && /^[\w./@+-]+$/.test(given) ? given : 'openirsa';
}
