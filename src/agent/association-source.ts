/**
 * The list/watch of PodIdentityAssociation objects into an AssociationIndex, over an injected transport: the agent's
 * client-node one (kube.ts), the webhook's lean one (src/kube/lean.ts), where the associations are its second source
 * of container-credentials ServiceAccounts. Nothing here loads @kubernetes/client-node.
 */
import { Reflector, type ListWatch } from '../kube/reflector.js';
import type { Logger } from '../log.js';
import {
  ASSOCIATION_API_PATH,
  ASSOCIATION_PLURAL,
  AssociationIndex,
  parseAssociation,
  type Association,
} from './association.js';
import { messageOf } from '../errors.js';

/** Keeps an AssociationIndex in step with the cluster's PodIdentityAssociation objects. */
export class AssociationApiSource {
  readonly reflector: Reflector;
  constructor(
    api: ListWatch,
    readonly index: AssociationIndex,
    logger: Logger,
    opts: { watchIdleTimeoutMs?: number; initialBackoffMs?: number; maxBackoffMs?: number } = {},
  ) {
    const parse = (obj: unknown): Association | undefined => {
      try {
        return parseAssociation(obj);
      } catch (err) {
        logger.warn({ err: messageOf(err) }, 'ignoring an invalid PodIdentityAssociation');
        return undefined;
      }
    };
    const nameOf = (obj: unknown) => (obj as { metadata?: { name?: string } } | null)?.metadata?.name;
    const warnConflicts = () => {
      for (const names of index.conflicts())
        logger.warn(
          { associations: names },
          `several PodIdentityAssociations for one ServiceAccount; using ${names[0]}`,
        );
    };
    this.reflector = new Reflector({
      name: ASSOCIATION_PLURAL,
      ...api,
      path: ASSOCIATION_API_PATH,
      onReplace: (items) => {
        index.replace(items.map(parse).filter((a): a is Association => a !== undefined));
        warnConflicts();
      },
      onUpsert: (obj) => {
        const a = parse(obj);
        const name = nameOf(obj);
        if (a) index.upsert(a);
        else if (name) index.remove(name); // an object turned invalid no longer grants anything
        warnConflicts();
      },
      onDelete: (obj) => {
        const name = nameOf(obj);
        if (name) index.remove(name);
      },
      logger,
      ...opts,
    });
  }
  start(): Promise<void> {
    this.reflector.start();
    return this.reflector.synced;
  }
  stop(): void {
    this.reflector.stop();
  }
}
