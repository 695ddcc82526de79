import { seg, type Requester } from './request.js';
import type {
  BeforePage, CatalogList, CreateWebhookEndpointParams, DeletedObject, UpdateWebhookEndpointParams, WebhookEndpoint,
  WebhookEndpointSecret, WebhookEndpointWithSecret, WebhookMessage, WebhookMessageDetail, WebhookMessageListParams,
  WebhookRecoveryResult, WebhookReplayResult,
} from './types.js';

/** /v1/webhook_endpoints and their messages. */
export function webhookEndpointsApi(request: Requester) {
  const endpoint = (id: string, action = '') => `/webhook_endpoints/${seg(id)}${action}`;
  return {
    list: () => request<CatalogList<WebhookEndpoint>>('GET', '/webhook_endpoints'),
    get: (id: string) => request<WebhookEndpoint>('GET', endpoint(id)),
    /** The answer carries the signing secret (`whsec_…`). */
    create: (params: CreateWebhookEndpointParams) =>
      request<WebhookEndpointWithSecret>('POST', '/webhook_endpoints', { body: params }),
    update: (id: string, params: UpdateWebhookEndpointParams) => request<WebhookEndpoint>('PATCH', endpoint(id), { body: params }),
    /** Removes its messages and attempts too. */
    delete: (id: string) => request<DeletedObject<'webhook_endpoint'>>('DELETE', endpoint(id)),
    /** The current secret (audited: who saw a secret matters when one leaks). */
    secret: (id: string) => request<WebhookEndpointSecret>('GET', endpoint(id, '/secret')),
    /** A new secret that signs at once; the previous one keeps signing beside it for 24 h. */
    rotateSecret: (id: string) => request<WebhookEndpointWithSecret>('POST', endpoint(id, '/rotate_secret')),
    /** Newest first; page on with `before: next_before`. */
    messages: (id: string, params: WebhookMessageListParams = {}) =>
      request<BeforePage<WebhookMessage>>('GET', endpoint(id, '/messages'), { query: { ...params } }),
    /** Every failed message created since `since` (ms) goes back to pending. */
    replayFailed: (id: string, params: { since: number }) =>
      request<WebhookReplayResult>('POST', endpoint(id, '/replay_failed'), { body: params }),
    /** Queues every retained event since `since` (ms) that the endpoint never got a message for. */
    recover: (id: string, params: { since: number }) =>
      request<WebhookRecoveryResult>('POST', endpoint(id, '/recover'), { body: params }),
  };
}

/** /v1/webhook_messages/{id}. */
export function webhookMessagesApi(request: Requester) {
  const message = (id: string, action = '') => `/webhook_messages/${seg(id)}${action}`;
  return {
    /** The message, its event and every attempt. */
    get: (id: string) => request<WebhookMessageDetail>('GET', message(id)),
    /** Sends it again with the same id on a fresh retry schedule; a pending message is only hurried. */
    replay: (id: string) => request<WebhookMessage>('POST', message(id, '/replay')),
  };
}
