import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import type { ActorRef } from '../audit/audit-log.js';
import type { Db } from '../storage/database.js';

/**
 * Where a change came from, when it came over HTTP (Clerk's
 * `event_attributes.http_request`), and who made it (the audit log's actor).
 */
export interface RequestOrigin {
  clientIp: string;
  userAgent: string;
  /** Who is acting: the secret key on the Backend API, the end user on the Frontend API, the operator in the CLI. */
  actor?: ActorRef;
}

/**
 * The origin travels with the database handle a change is written through.
 * The HTTP layer gives each API request a handle that carries its origin
 * (`withOrigin`), and the CLI gives each command one. The events and audit
 * entries written through that handle, or through any transaction opened from
 * it, record the origin. The domain never sees a request. Changes the server
 * makes by itself (an expired ban lifting, a failing endpoint disabled) use
 * the plain handle, so they have no origin.
 *
 * A Kysely plugin is the carrier because Kysely keeps a handle's plugins on
 * every transaction opened from it. The plugin changes no query. This used to
 * be an AsyncLocalStorage. On Node 20 its promise hooks run for every promise
 * in the process, which cost the token endpoint about 6% of its throughput.
 */
class OriginTag implements KyselyPlugin {
  /** `untagged` is the handle the tag was added to, so a new origin replaces this one in one step. */
  constructor(readonly origin: RequestOrigin, readonly untagged: Db) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

function tagOf(db: Db): OriginTag | undefined {
  const plugins = db.getExecutor().plugins;
  for (let i = plugins.length - 1; i >= 0; i--) {
    const plugin = plugins[i];
    if (plugin instanceof OriginTag) return plugin;
  }
  return undefined;
}

/** The origin `db` carries, if any. */
export const originOf = (db: Db): RequestOrigin | undefined => tagOf(db)?.origin;

/** `db` carrying `origin` (in place of any origin it carried). */
export function withOrigin(db: Db, origin: RequestOrigin): Db {
  const untagged = tagOf(db)?.untagged ?? db;
  return untagged.withPlugin(new OriginTag(origin, untagged));
}

/** `db` with the same origin but another actor (once a request's caller is known). */
export const withActor = (db: Db, actor: ActorRef): Db =>
  withOrigin(db, { ...(originOf(db) ?? { clientIp: '', userAgent: '' }), actor });
