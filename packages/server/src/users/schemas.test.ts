import { describe, expect, it } from 'vitest';
import { emailAddress } from './schemas.js';

describe('emailAddress', () => {
  it('takes bare addresses, internationalized ones included', () => {
    for (const ok of ['ada@example.com', "o'brien+tag@mail.example.co.uk", 'a.b_c-d@sub-domain.example.org', 'josé@exämple.com', 'x@xn--mnchen-3ya.de']) {
      expect(emailAddress.safeParse(ok).success, ok).toBe(true);
    }
  });

  it('refuses what mail software would read as another address or a list', () => {
    for (const bad of ['Name <ada@example.com>', 'anything<victim@example.com>', 'ada@example.com,company.com', 'ada@example.com; b@example.com',
      'ceo:victim@example.com;', 'a(comment)@example.com', '"quoted"@example.com', 'a b@example.com', 'ada@example.com ', 'ada@[127.0.0.1]',
      'a\\b@example.com', '.ada@example.com', 'ada.@example.com', 'a..da@example.com', 'ada@example..com', 'ada@-example.com', 'ada@example', '@example.com', 'ada@']) {
      expect(emailAddress.safeParse(bad).success, bad).toBe(false);
    }
  });
});
