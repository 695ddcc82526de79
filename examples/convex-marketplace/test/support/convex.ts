import { convexTest } from 'convex-test';
import { ConvexError, type Value } from 'convex/values';
import { expect } from 'vitest';
import schema from '../../convex/schema';
import { modules } from '../../convex/test.setup';
import type { Delivery } from './latchkey';

/** A fresh Convex deployment of the marketplace (convex-test: schema, functions, http.ts). */
export const newDeployment = () => convexTest(schema, modules);
export type Deployment = ReturnType<typeof newDeployment>;

/** Posts captured Latchkey deliveries to the deployment's webhook route, as Latchkey would; each must be accepted. */
export async function deliver(t: Deployment, deliveries: Delivery[]): Promise<void> {
  for (const d of deliveries) {
    const res = await t.fetch('/latchkey-webhook', { method: 'POST', headers: d.headers, body: d.body });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ success: true });
  }
}

/** The data of the ConvexError a call is refused with (a client reads it as `error.data`). */
export async function refusal(call: Promise<unknown>): Promise<Record<string, Value>> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  expect(err, 'expected the call to be refused').toBeInstanceOf(ConvexError);
  return (err as ConvexError<Record<string, Value>>).data;
}

/** Seed 000's 403: { error: "Insufficient permissions", requiredRole, userRole }. */
export const forbidden = (requiredRole: string, userRole: string | null) =>
  ({ code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole, userRole });

export const notStoreOwner = (storeId: string) =>
  ({ code: 'NOT_STORE_OWNER', message: 'You can only manage your own store', storeId });
