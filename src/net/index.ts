// One address and prefix type for IPv4 and IPv6. Imports nothing else of podnet's, so every
// room can use it.
export * from './address.js';
export * from './prefix.js';
export * from './errors.js';
