import { describe, expect, it } from 'vitest';
import { instanceSettingsSchema } from './settings.js';

describe('allowed_origins', () => {
  const origins = (allowed_origins: string[]) => instanceSettingsSchema.parse({ allowed_origins }).allowed_origins;

  it('are stored as browsers send Origin, so they match byte for byte', () => {
    expect(origins(['https://App.Example.com:443', 'http://localhost:5173', 'https://x.example.com?q#f', 'https://app.example.com']))
      .toEqual(['https://app.example.com', 'http://localhost:5173', 'https://x.example.com']);
  });

  it('refuse what is not an origin', () => {
    for (const bad of ['app.example.com', 'https://app.example.com/', 'https://app.example.com/path', 'ftp://app.example.com', 'https://a b.com', 'https://']) {
      expect(instanceSettingsSchema.safeParse({ allowed_origins: [bad] }).success, bad).toBe(false);
    }
  });
});
