import type { Requester } from './request.js';
import type { Instance, InstanceSettings } from './types.js';

/** /v1/instance: the instance and its settings. */
export function instanceApi(request: Requester) {
  return {
    get: () => request<Instance>('GET', '/instance'),
    /** Changes the settings named; the others stay. */
    update: (patch: Partial<InstanceSettings>) => request<Instance>('PATCH', '/instance', { body: patch }),
  };
}
