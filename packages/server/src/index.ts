export { createLatchkey, type Latchkey, type LatchkeyOptions } from './latchkey.js';
export { loadConfig, ConfigError, type Config } from './config/config.js';
export { ManualClock, systemClock, type Clock } from './clock/clock.js';
export { publishableKey } from './instance/api-keys.js';
