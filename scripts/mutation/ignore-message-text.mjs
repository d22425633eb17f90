// A StrykerJS ignorer: mutants inside text written for people — the explanation argument of an error, a
// statement's `reason`, a session-tag error's detail — are set aside (issue 10: "message-text mutants ignored").
// AWS's own wording (the messages on the wire) is not set aside: it is in src/sts/protocol.ts, tested byte for
// byte, and where a module writes it inline it is an error's message argument, which stays mutated.
import { PluginKind, declareValuePlugin } from '@stryker-mutator/api/plugin';

/** Callee → the indexes of its arguments that are explanation text (never the facts AWS's wording is made of). */
const EXPLANATION_ARGS = new Map([
  ['refuse', [1]], // verify.ts: refuse(code, explanation, facts); the facts fill AWS's message (sts/token-errors.ts)
  ['malformed', [0]], // verify.ts: malformed(explanation)
  ['mismatch', [1]], // sigv4.ts: mismatch(awsMessage, explanation)
  ['bad', [0]], // verify.ts: the detail inside "Invalid session tags in the ID Token: …"
]);
const TEXT_PROPERTIES = new Set(['reason', 'detail', 'explanation']);

function calleeName(node) {
  if (node.type === 'Identifier') return node.name;
  return undefined;
}

export const messageTextIgnorer = {
  shouldIgnore(path) {
    const parent = path.parentPath;
    if (!parent) return undefined;
    const node = path.node;
    // TokenError's third argument is its facts, not text.
    const errorClass = parent.node.type === 'NewExpression' ? calleeName(parent.node.callee) : undefined;
    if (errorClass && /Error$/.test(errorClass) && errorClass !== 'TokenError') {
      const i = parent.node.arguments.indexOf(node);
      if (i >= 2) return 'the explanation of an error (logs and explain only)';
    }
    if (parent.node.type === 'CallExpression') {
      const text = EXPLANATION_ARGS.get(calleeName(parent.node.callee) ?? '');
      if (text?.includes(parent.node.arguments.indexOf(node))) return 'explanation text of an error';
    }
    if (
      parent.node.type === 'ObjectProperty' &&
      parent.node.value === node &&
      parent.node.key.type === 'Identifier' &&
      TEXT_PROPERTIES.has(parent.node.key.name)
    )
      return 'explanation text (reason/detail)';
    return undefined;
  },
};

export const strykerPlugins = [declareValuePlugin(PluginKind.Ignore, 'message-text', messageTextIgnorer)];
