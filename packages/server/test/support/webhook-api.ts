/** The Backend API's webhook shapes, as the webhook suites read them (docs/webhooks.md). */

export interface FeedEvent {
  id: string;
  sequence: number;
  type: string;
  data: { id: string } & Record<string, unknown>;
}

export interface Message {
  id: string;
  event_sequence: number;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: number | null;
  last_status_code: number | null;
}

export interface Attempt {
  attempted_at: number;
  status: 'succeeded' | 'failed';
  status_code: number | null;
  error: string | null;
}

export interface MessageDetail extends Message {
  event: FeedEvent | null;
  attempt_list: Attempt[];
}
